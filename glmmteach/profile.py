"""Likelihood profiles of a fitted model: the signed square-root deviance ``zeta``.

:func:`profile` fixes one parameter at a time at a chosen value, re-optimizes the deviance over
all the others, and records how much the deviance rose. The result, a :class:`Profile`, gives
profile-likelihood confidence intervals (``Profile.confint``), a tidy table of the evaluated
points (``Profile.frame``) and a picture (``Profile.plot``).

Parameters are named as lme4 names them with ``oldNames = FALSE``: ``sd_(Intercept)|id`` for a
random-effect standard deviation, ``cor_x.(Intercept)|g`` for a correlation, and the fixed-effect
column names (``trttreat``). Random-effect parameters are profiled on the standard-deviation and
correlation scale, as lme4's default ``prof.scale = "sdcor"``.

How the profile is computed (our implementation, from the mathematics)
-----------------------------------------------------------------------
lme4 steps along each parameter on a grid and interpolates ``zeta`` with splines. Here each
interval limit is a root of ``zeta(x) = +/- z`` found by safeguarded Newton iterations, which
are cheap because the slope of the profile is known exactly: by the envelope theorem the
derivative of the profiled deviance is the partial derivative of the deviance in the focal
parameter at the conditional optimum, which the deviance closure returns with its exact
gradient. Every conditional optimum is warm-started from the nearest profiled point, moved
along the direction ``d nu / d x = [H^-1]_{nu x} / [H^-1]_{x x}`` predicted by the Hessian at
the optimum. Three or four conditional fits per interval limit suffice.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize as spo
from scipy import stats
from scipy.interpolate import CubicHermiteSpline

from ._warnings import ConvergenceWarning

__all__ = ["Profile", "profile", "parameter_names", "resolve_parm", "sdcor_estimates",
           "check_level", "column_labels"]

#: tolerance on |zeta - target| before the final Newton correction of a limit
_ZTOL = 1e-5
#: maximal number of conditional fits for one interval limit
_MAXIT = 40
#: a correlation is kept this far inside (-1, 1) while it is optimized
_COR_EPS = 1e-9
#: deviance decrease (below the fit's optimum) that is treated as rounding, not a new optimum
_DEVTOL = 1e-6


# --------------------------------------------------------------------------------------------
# Names and argument checks
# --------------------------------------------------------------------------------------------


def parameter_names(m) -> list[str]:
    """Names of all parameters, as lme4's ``confint(m, oldNames = FALSE)`` rows.

    Random-effect parameters come first, in the order of ``getME(m, "theta")`` (lower triangle
    of each term's covariance factor, column by column): ``sd_<column>|<group>`` on the
    diagonal and ``cor_<row column>.<column column>|<group>`` below it; then the fixed effects.
    """
    re = m._dev.re
    out = []
    for k, (r, c) in zip(re.theta_term, re.theta_rc):
        t = m.design.terms[k]
        if r == c:
            out.append(f"sd_{t.cnms[r]}|{t.group}")
        else:
            out.append(f"cor_{t.cnms[r]}.{t.cnms[c]}|{t.group}")
    return out + list(m.design.xnames)


def resolve_parm(m, parm) -> list[int]:
    """Indices (into :func:`parameter_names`) of the parameters that ``parm`` selects.

    ``None`` selects all; ``"theta_"`` the random-effect parameters; ``"beta_"`` the fixed
    effects; otherwise a name or a list of names (lme4's old names ``.sig01``, ... are accepted
    for the random-effect parameters).

    Raises
    ------
    ValueError
        For a name that is not a parameter of the model (the message lists the valid names).
    TypeError
        For anything that is not None, a string or a list of strings.
    """
    names = parameter_names(m)
    n_theta = m._dev.n_theta
    if parm is None:
        return list(range(len(names)))
    items = [parm] if isinstance(parm, str) else parm
    if not isinstance(items, (list, tuple, pd.Index, np.ndarray)) or not all(
            isinstance(p, str) for p in items):
        raise TypeError(
            "parm must be None (all parameters), 'theta_', 'beta_', a parameter name or a list "
            f"of names, not {parm!r}")
    if len(items) == 0:
        raise ValueError("parm is empty; pass None for all parameters")
    out: list[int] = []
    for p in items:
        if p == "theta_":
            idx = list(range(n_theta))
        elif p == "beta_":
            idx = list(range(n_theta, len(names)))
        elif p in names:
            idx = [names.index(p)]
        elif p.startswith(".sig") and p[4:].isdigit() and 1 <= int(p[4:]) <= n_theta:
            idx = [int(p[4:]) - 1]
        else:
            raise ValueError(
                f"parm={p!r} is not a parameter of this model; choose from "
                f"{', '.join(repr(n) for n in names)}, or 'theta_' (random-effect parameters) "
                "or 'beta_' (fixed effects)")
        out.extend(i for i in idx if i not in out)
    return out


def check_level(level) -> float:
    """``level`` must be a number strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise ValueError(f"level must be a number between 0 and 1 (e.g. 0.95), not {level!r}")
    level = float(level)
    if not (0.0 < level < 1.0) or math.isnan(level):
        raise ValueError(
            f"level={level} is outside (0, 1); give the confidence level as a proportion, "
            "e.g. 0.95 for 95 % intervals")
    return level


def column_labels(level: float) -> tuple[str, str]:
    """R's column names of a confidence interval: ``("2.5 %", "97.5 %")`` for 0.95."""
    a = (1.0 - level) / 2.0

    def pct(p: float) -> str:
        return np.format_float_positional(100.0 * p, precision=3, unique=True,
                                          fractional=False, trim="-") + " %"

    return pct(a), pct(1.0 - a)


def _check_profilable(m) -> None:
    if m.nAGQ == 0:
        raise ValueError(
            "profile intervals need the full (theta, beta) deviance, which a fit with nAGQ=0 "
            "does not optimize; refit with nAGQ=1, or use method='wald'")


# --------------------------------------------------------------------------------------------
# The sd/cor parameterization of one random-effect term
# --------------------------------------------------------------------------------------------


def _theta_to_sdcor(theta_term: np.ndarray, rc, q: int, nan_cor: float = np.nan) -> np.ndarray:
    T = np.zeros((q, q))
    for v, (r, c) in zip(theta_term, rc):
        T[r, c] = v
    S = T @ T.T
    sd = np.sqrt(np.diag(S))
    out = np.empty(len(rc))
    for j, (r, c) in enumerate(rc):
        if r == c:
            out[j] = sd[r]
        else:
            den = sd[r] * sd[c]
            out[j] = S[r, c] / den if den > 0 else nan_cor
    return out


def sdcor_estimates(m) -> pd.Series:
    """The random-effect SDs and correlations and the fixed effects, named as in confint.

    This is the parameter vector on the scale of the profiles (and of lme4's ``profile`` with
    ``prof.scale = "sdcor"``); it is also the default statistic of the parametric bootstrap.
    """
    re = m._dev.re
    theta = m._opt.theta
    vals = np.empty(re.n_theta)
    for k, t in enumerate(m.design.terms):
        idx = np.flatnonzero(re.theta_term == k)
        rc = [re.theta_rc[j] for j in idx]
        vals[idx] = _theta_to_sdcor(theta[idx], rc, t.X.shape[1])
    return pd.Series(np.concatenate([vals, m._opt.beta]), index=parameter_names(m),
                     name="estimate")


class _ParamMap:
    """``psi`` <-> ``phi = (theta, beta)``: one term's theta replaced by its SDs/correlations.

    For a term with ``q`` columns, ``T = D chol(R)`` with ``D = diag(sd)`` and ``R`` the
    correlation matrix, so ``Sigma = T T' = D R D``. The SDs enter linearly; the derivative of
    the Cholesky factor in a correlation is ``dL = L Phi(L^-1 dR L^-T)`` (``Phi`` keeps the
    lower triangle and halves the diagonal).
    """

    def __init__(self, re, p: int, term: int | None) -> None:
        self.n_theta = re.n_theta
        self.n = re.n_theta + p
        lower = np.concatenate([re.lower, np.full(p, -np.inf)])
        upper = np.full(self.n, np.inf)
        self.term = term
        if term is not None:
            self.idx = np.flatnonzero(re.theta_term == term)
            self.rc = [re.theta_rc[j] for j in self.idx]
            self.q = re.terms[term].X.shape[1]
            for j, (r, c) in zip(self.idx, self.rc):
                if r != c:
                    lower[j], upper[j] = -1.0 + _COR_EPS, 1.0 - _COR_EPS
        self.lower, self.upper = lower, upper

    def _parts(self, vals):
        q = self.q
        sd = np.zeros(q)
        R = np.eye(q)
        for v, (r, c) in zip(vals, self.rc):
            if r == c:
                sd[r] = v
            else:
                R[r, c] = R[c, r] = v
        L = np.linalg.cholesky(R)  # LinAlgError when R is not positive definite
        return sd, L

    def to_phi(self, psi: np.ndarray) -> np.ndarray:
        phi = np.array(psi, dtype=float)
        if self.term is not None:
            sd, L = self._parts(psi[self.idx])
            T = sd[:, None] * L
            phi[self.idx] = [T[r, c] for r, c in self.rc]
        return phi

    def from_phi(self, phi: np.ndarray) -> np.ndarray:
        psi = np.array(phi, dtype=float)
        if self.term is not None:
            psi[self.idx] = _theta_to_sdcor(phi[self.idx], self.rc, self.q, nan_cor=0.0)
        return psi

    def pullback(self, psi: np.ndarray, g_phi: np.ndarray) -> np.ndarray:
        """``J' g`` with ``J = d phi / d psi``: a gradient in ``phi`` as one in ``psi``."""
        g = np.array(g_phi, dtype=float)
        if self.term is None:
            return g
        sd, L = self._parts(psi[self.idx])
        G = np.zeros((self.q, self.q))  # d f / d T
        for j, (r, c) in zip(self.idx, self.rc):
            G[r, c] = g_phi[j]
        Linv = None
        for j, (r, c) in zip(self.idx, self.rc):
            if r == c:
                g[j] = float(G[r] @ L[r])
            else:
                if Linv is None:
                    Linv = np.linalg.inv(L)
                S = np.zeros((self.q, self.q))
                S[r, c] = S[c, r] = 1.0
                A = Linv @ S @ Linv.T
                Phi = np.tril(A) - 0.5 * np.diag(np.diag(A))
                dT = sd[:, None] * (L @ Phi)
                g[j] = float(np.sum(G * dT))
        return g

    def hessian(self, psi: np.ndarray, H_phi: np.ndarray) -> np.ndarray:
        """``J' H J`` (the second-order term vanishes at a stationary point)."""
        A = np.column_stack([self.pullback(psi, H_phi[:, j]) for j in range(self.n)])
        B = np.column_stack([self.pullback(psi, A.T[:, j]) for j in range(self.n)])
        return 0.5 * (B + B.T)


# --------------------------------------------------------------------------------------------
# Profiling
# --------------------------------------------------------------------------------------------


@dataclass
class _Point:
    x: float
    zeta: float
    slope: float  # d zeta / d x
    psi: np.ndarray
    dev: float


@dataclass
class _ParamProfile:
    name: str
    kind: str  # "sd", "cor" or "beta"
    estimate: float
    se: float  # Wald standard error on the profiled scale (nan if unavailable)
    points: list[_Point] = field(default_factory=list)
    # (side, target) -> (limit, how) with how in {"root", "boundary", "failed"}
    limits: dict = field(default_factory=dict)
    bound: tuple[float, float] = (-np.inf, np.inf)
    reached: dict = field(default_factory=dict)  # side -> largest |zeta| profiled


def _param_map(re, p: int, i: int) -> _ParamMap:
    """The parameterization for profiling parameter ``i``: SD/cor for its own vector term."""
    term = None
    if i < re.n_theta:
        k = int(re.theta_term[i])
        if re.terms[k].X.shape[1] > 1:
            term = k
    return _ParamMap(re, p, term)


class _Profiler:
    """Conditional optimization of the deviance with one parameter held fixed."""

    def __init__(self, m) -> None:
        from .deviance import make_agq_deviance, make_laplace_deviance

        _check_profilable(m)
        self.m = m
        if m.nAGQ > 1:
            self.dev = make_agq_deviance(m.design, m.family, m.nAGQ)
        else:
            self.dev = make_laplace_deviance(m.design, m.family)
        self.dev._u = np.array(m._state.u, dtype=float)
        self.re = self.dev.re
        self.p = self.dev.p
        self.phi_hat = np.array(m._opt.phi, dtype=float)
        self.f_hat = float(m._opt.fun)
        H = m._opt.hessian
        if H is None:
            from .optimize import _hessian_from_gradient

            H = _hessian_from_gradient(self.dev.grad, self.phi_hat)
        self.H_phi = np.asarray(H, dtype=float)
        self.names = parameter_names(m)
        self.lower_found = 0.0  # largest deviance decrease below the fit's optimum

    def _map(self, i: int) -> _ParamMap:
        return _param_map(self.re, self.p, i)

    def _conditional(self, pmap: _ParamMap, i: int, x: float, nu0: np.ndarray):
        free = np.array([j for j in range(pmap.n) if j != i], dtype=int)
        lo, hi = pmap.lower[free], pmap.upper[free]
        best: dict = {"f": np.inf}
        dev = self.dev
        penalty = self.f_hat + 1e8

        def fun(nu):
            psi = np.empty(pmap.n)
            psi[free] = nu
            psi[i] = x
            try:
                phi = pmap.to_phi(psi)
            except np.linalg.LinAlgError:
                return penalty, np.zeros(len(free))
            f, g = dev.value_and_grad(phi)
            if not np.isfinite(f):
                return penalty, np.zeros(len(free))
            gpsi = pmap.pullback(psi, g)
            if f < best["f"]:
                best.update(f=float(f), psi=psi.copy(), g=gpsi)
            return f, gpsi[free]

        if len(free) == 0:
            fun(np.empty(0))
        else:
            nu0 = self._feasible(pmap, i, x, free, np.clip(nu0, lo, hi))
            bounds = [(a if np.isfinite(a) else None, b if np.isfinite(b) else None)
                      for a, b in zip(lo, hi)]
            spo.minimize(fun, nu0, jac=True, method="L-BFGS-B", bounds=bounds,
                         options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-7, "maxcor": 20})
        if not np.isfinite(best["f"]):
            raise FloatingPointError(f"the deviance is not finite with {self.names[i]} = {x}")
        return best["f"], best["psi"], float(best["g"][i])

    @staticmethod
    def _feasible(pmap: _ParamMap, i: int, x: float, free: np.ndarray, nu: np.ndarray):
        """Shrink the term's other correlations towards 0 until ``R`` is positive definite."""
        if pmap.term is None:
            return nu
        psi = np.empty(pmap.n)
        psi[free] = nu
        psi[i] = x
        cors = [j for j, (r, c) in zip(pmap.idx, pmap.rc) if r != c and j != i]
        for shrink in (1.0, 0.999, 0.99, 0.95, 0.9, 0.75, 0.5, 0.25, 0.0):
            trial = psi.copy()
            trial[cors] = psi[cors] * shrink
            try:
                pmap.to_phi(trial)
            except np.linalg.LinAlgError:
                continue
            return trial[free]
        return nu

    def profile_param(self, i: int, targets: list[float]) -> _ParamProfile:
        pmap = self._map(i)
        psi_hat = pmap.from_phi(self.phi_hat)
        x_hat = float(psi_hat[i])
        kind = "beta" if i >= self.re.n_theta else (
            "sd" if self.re.theta_rc[i][0] == self.re.theta_rc[i][1] else "cor")
        # quadratic approximation at the optimum: Wald SE and the conditional direction
        se, direction = np.nan, np.zeros(pmap.n)
        try:
            H = pmap.hessian(psi_hat, self.H_phi)
            Hinv = np.linalg.inv(H)
            if Hinv[i, i] > 0 and np.all(np.isfinite(Hinv)):
                se = math.sqrt(2.0 * Hinv[i, i])
                direction = Hinv[:, i] / Hinv[i, i]
                direction[i] = 0.0
        except (np.linalg.LinAlgError, ValueError):
            pass
        bound = (float(pmap.lower[i]), float(pmap.upper[i]))
        if kind == "cor":
            bound = (-1.0, 1.0)
        prof = _ParamProfile(self.names[i], kind, x_hat, se, bound=bound)
        p0 = _Point(x_hat, 0.0, 1.0 / se if se > 0 else np.nan, psi_hat, self.f_hat)
        prof.points.append(p0)
        for side in (-1, 1):
            self._side(prof, pmap, i, side, sorted(targets), direction)
        prof.points.sort(key=lambda p: p.x)
        return prof

    def _evaluate(self, pmap, i, x, near: _Point, direction, x_hat: float) -> _Point:
        x_eval = x
        if pmap.term is not None and self.re.theta_rc[i][0] != self.re.theta_rc[i][1]:
            x_eval = float(np.clip(x, -1.0 + _COR_EPS, 1.0 - _COR_EPS))
        nu0 = near.psi + direction * (x_eval - near.x)
        free = [j for j in range(pmap.n) if j != i]
        f, psi, g = self._conditional(pmap, i, x_eval, nu0[free])
        delta = f - self.f_hat
        if delta < -_DEVTOL:
            self.lower_found = max(self.lower_found, -delta)
        z = math.copysign(math.sqrt(max(delta, 0.0)), x - x_hat)
        slope = g / (2.0 * z) if z != 0 else np.nan
        return _Point(x, z, slope, psi, f)

    def _side(self, prof: _ParamProfile, pmap, i: int, d: int, targets, direction) -> None:
        x_hat = prof.estimate
        lim = prof.bound[0] if d < 0 else prof.bound[1]
        pts = [prof.points[0]]
        hit = False
        if d * (lim - x_hat) <= 0:  # the estimate sits on this boundary (singular fit)
            for t in targets:
                prof.limits[(d, t)] = (lim, "boundary")
            prof.reached[d] = 0.0
            return
        se = prof.se if np.isfinite(prof.se) and prof.se > 0 else np.nan
        base_step = se if np.isfinite(se) else 0.5 * max(abs(x_hat), 0.2)
        for t in targets:
            if hit:
                prof.limits[(d, t)] = (lim, "boundary")
                continue
            done = False
            for _ in range(_MAXIT):
                inner = max((p for p in pts if d * p.zeta < t), key=lambda p: d * p.zeta)
                outers = [p for p in pts if d * p.zeta >= t]
                outer = min(outers, key=lambda p: d * p.zeta) if outers else None
                cands = [inner] + ([outer] if outer is not None else [])
                near = min(cands, key=lambda p: abs(d * p.zeta - t))
                good_slope = np.isfinite(near.slope) and near.slope > 0
                if abs(d * near.zeta - t) < _ZTOL and good_slope:
                    root = near.x + (d * t - near.zeta) / near.slope
                    if outer is not None:
                        a, b = sorted((inner.x, outer.x))
                        root = min(max(root, a), b)
                    prof.limits[(d, t)] = (root, "root")
                    done = True
                    break
                x_new = near.x + (d * t - near.zeta) / near.slope if good_slope else None
                if outer is not None:
                    a, b = sorted((inner.x, outer.x))
                    if x_new is None or not (a < x_new < b):
                        zi, zo = d * inner.zeta, d * outer.zeta
                        frac = (t - zi) / (zo - zi) if zo > zi else 0.5
                        x_new = inner.x + min(max(frac, 0.05), 0.95) * (outer.x - inner.x)
                else:
                    dist = abs(inner.x - x_hat)
                    max_step = max(4.0 * dist, 2.0 * t * base_step)
                    if x_new is None or d * (x_new - inner.x) <= 0:
                        x_new = inner.x + d * (t * base_step if dist == 0 else dist)
                    if abs(x_new - inner.x) > max_step:
                        x_new = inner.x + d * max_step
                at_bound = np.isfinite(lim) and d * (x_new - lim) >= 0
                if at_bound:
                    x_new = lim
                if any(p.x == x_new for p in pts):  # no progress possible
                    break
                start = min(pts, key=lambda p: abs(p.x - x_new))
                try:
                    pt = self._evaluate(pmap, i, x_new, start, direction, x_hat)
                except FloatingPointError:
                    break  # reported as a failed limit (NaN with a warning)
                pts.append(pt)
                prof.points.append(pt)
                if at_bound and d * pt.zeta < t:
                    prof.limits[(d, t)] = (lim, "boundary")
                    hit = True
                    done = True
                    break
            if not done:
                prof.limits[(d, t)] = (np.nan, "failed")
        prof.reached[d] = max(d * p.zeta for p in pts)
        if hit:
            prof.reached[d] = np.inf  # the whole side up to the boundary is profiled


def profile(m, parm=None, level: float = 0.95, alphamax: float | None = 0.01) -> Profile:
    """Profile the deviance of a fitted model in each selected parameter.

    Parameters
    ----------
    m : GlmerResult
        A model fitted with ``nAGQ >= 1``.
    parm : None, str or list of str
        Which parameters: ``None`` (all), ``"theta_"`` (random-effect SDs and correlations),
        ``"beta_"`` (fixed effects), or names as in :func:`parameter_names`.
    level : float
        The confidence level whose interval limits are located exactly.
    alphamax : float or None
        The profile also extends to ``|zeta| = z_{1 - alphamax/2}`` (2.58 for 0.01, as lme4's
        default range), so that intervals up to level ``1 - alphamax`` can be read off it and
        the plot shows the curve beyond the interval; ``None`` stops at ``level``'s limits.

    Returns
    -------
    Profile

    Notes
    -----
    For a parameter ``x`` with maximum-likelihood estimate ``x_hat`` the profiled deviance is
    ``d(x) = min over the other parameters of f(theta, beta)`` with ``x`` held fixed, and

    .. math:: \\zeta(x) = \\operatorname{sign}(x - \\hat x) \\sqrt{d(x) - d(\\hat x)}.

    For a parameter whose estimator is close to normal, ``zeta`` is close to a straight line of
    slope ``1/SE``; its curvature shows how far the Wald interval can be trusted. The
    ``level`` profile interval is ``{x : |zeta(x)| <= z_{(1+level)/2}}``, i.e. the values that a
    likelihood-ratio test at level ``1 - level`` would not reject. A standard deviation cannot
    be negative: when ``zeta(0) > -z`` the lower limit is exactly 0 (and a correlation's
    limit is -1 or 1 when the profile reaches that boundary first).

    Agreement with lme4: limits agree with lme4's ``confint`` to about 1e-4 relative. The
    differences come from lme4: minimizing lme4's own deviance function in R with the focal
    parameter fixed at our limits gives ``zeta = +/- z`` to 1e-6, while at lme4's limits it
    gives e.g. -1.95969 instead of -1.95996 (the article's treatment effect), because the
    ``zeta`` values lme4 stores along its profile exceed its own deviance function by up to
    2e-3 on the deviance scale.

    Random-effect parameters are profiled on the SD / correlation scale: for a term with
    ``q`` columns ``Sigma = D R D`` with ``D`` the SDs and ``R`` the correlations, and the
    other parameters of that term are re-optimized in those coordinates
    (``T = D chol(R)``); the profile does not depend on how the other parameters are
    parameterized, only on the focal one.
    """
    level = check_level(level)
    if alphamax is not None:
        if isinstance(alphamax, bool) or not isinstance(alphamax, (int, float)) or not (
                0.0 < alphamax < 1.0):
            raise ValueError(f"alphamax must be a number in (0, 1) or None, not {alphamax!r}")
        alphamax = float(alphamax)
    idx = resolve_parm(m, parm)
    _check_profilable(m)
    from .fitting import _single_threaded_blas

    z = float(stats.norm.ppf(0.5 + level / 2.0))
    targets = [z]
    if alphamax is not None:
        zmax = float(stats.norm.ppf(1.0 - alphamax / 2.0))
        if zmax > z + 1e-9:
            targets.append(zmax)
    with _single_threaded_blas():
        pr = _Profiler(m)
        profs = [pr.profile_param(i, targets) for i in idx]
    if pr.lower_found > 0:
        warnings.warn(
            f"profiling found a deviance {pr.lower_found:.3g} below the fitted model's: the fit "
            "had not reached the optimum, so the profile (and its intervals) are approximate. "
            "Refit the model (e.g. with centred and scaled predictors) and profile again.",
            ConvergenceWarning, stacklevel=2)
    return Profile(m, profs, level=level, z=z)


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------


def _link_scale(m) -> str:
    return {"logit": "log-odds", "probit": "probit", "cloglog": "complementary log-log"}.get(
        m.family.link, m.family.link)


def _describe(m, name: str) -> str:
    """A parameter name in words, for axis labels."""
    if name.startswith("sd_"):
        col, grp = name[3:].rsplit("|", 1)
        return f"SD of the random {col} across {grp}"
    if name.startswith("cor_"):
        pair, grp = name[4:].rsplit("|", 1)
        return f"correlation of random {pair.replace('.', ' and ', 1)} across {grp}"
    return f"coefficient {name} ({_link_scale(m)} scale)"


class Profile:
    """Likelihood profiles of a fitted model (returned by :func:`profile`, ``m.profile()``).

    Attributes
    ----------
    model : GlmerResult
    parameters : list of str
        The profiled parameters, in lme4's order.
    level : float
        The level whose interval limits were located exactly.
    frame : DataFrame
        One row per evaluated point: ``parameter`` (the focal one), ``value`` (its fixed
        value), ``zeta``, ``deviance``, then the value of every parameter at that point (the
        focal one fixed, the others re-optimized), on the SD/correlation scale.

    Notes
    -----
    Between evaluated points ``zeta`` is interpolated by a cubic Hermite spline through the
    points and their exact slopes (``d zeta / dx = (d f / dx) / (2 zeta)`` at the conditional
    optimum, the envelope theorem), so :meth:`confint` at another level and :meth:`plot` need
    no further fits. Limits at the ``level`` given to :func:`profile` are the exact roots.
    """

    def __init__(self, m, profs: list[_ParamProfile], level: float, z: float) -> None:
        self.model = m
        self._profs = {p.name: p for p in profs}
        self.parameters = [p.name for p in profs]
        self.level = level
        self._z = z
        self._names = parameter_names(m)

    # ------------------------------------------------------------------ table
    @property
    def frame(self) -> pd.DataFrame:
        rows = []
        m = self.model
        pm_cache: dict[str, _ParamMap] = {}
        for name, pr in self._profs.items():
            for pt in pr.points:
                row = {"parameter": name, "value": pt.x, "zeta": pt.zeta, "deviance": pt.dev}
                if name not in pm_cache:
                    pm_cache[name] = _param_map(m._dev.re, m._dev.p, self._names.index(name))
                pmap = pm_cache[name]
                vals = _all_sdcor(m, pmap.to_phi(pt.psi))
                row.update(dict(zip(self._names, vals)))
                row[name] = pt.x
                rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"<Profile of {len(self.parameters)} parameter(s) of {self.model.formula!r}: "
                f"{', '.join(self.parameters)}>")

    # ------------------------------------------------------------------ intervals
    def _spline(self, pr: _ParamProfile, side: int):
        pts = sorted(pr.points, key=lambda p: p.x)
        pts = [p for p in pts if side * (p.x - pr.estimate) >= 0]
        if len(pts) < 2:
            return None, pts
        x = np.array([p.x for p in pts])
        z = np.array([p.zeta for p in pts])
        s = np.array([p.slope for p in pts])
        # fill slopes that are unknown (the optimum of a boundary fit) by finite differences
        fd = np.gradient(z, x) if len(x) > 1 else np.zeros_like(x)
        s = np.where(np.isfinite(s), s, fd)
        keep = np.concatenate([[True], np.diff(x) > 0])
        return CubicHermiteSpline(x[keep], z[keep], s[keep]), pts

    def _limit(self, pr: _ParamProfile, side: int, zq: float) -> float:
        for (d, t), (val, how) in pr.limits.items():
            if d == side and abs(t - zq) < 1e-10:
                if how == "failed":
                    warnings.warn(
                        f"the {'lower' if side < 0 else 'upper'} profile limit of {pr.name} was "
                        "not found (the profile is flat or not monotone there); it is NaN. "
                        "Plot the profile to see why, or use method='boot'",
                        ConvergenceWarning, stacklevel=3)
                return float(val)
        reached = pr.reached.get(side, 0.0)
        if zq > reached + 1e-9:
            warnings.warn(
                f"the profile of {pr.name} stops at |zeta| = {reached:.3g} on this side, short "
                f"of {zq:.3g}; call profile(level=...) with this level", stacklevel=3)
            return np.nan
        spl, pts = self._spline(pr, side)
        bounded = [v for (d, _t), (v, how) in pr.limits.items() if d == side and how == "boundary"]
        if spl is None:
            return bounded[0] if bounded else np.nan
        zs = np.array([p.zeta for p in pts]) * side
        if zq > zs.max():
            return bounded[0] if bounded else np.nan
        # the segment where side * zeta crosses zq
        xs = np.array([p.x for p in pts])
        order = np.argsort(side * (xs - pr.estimate))
        xs, zs = xs[order], zs[order]
        j = int(np.argmax(zs >= zq))
        a, b = xs[j - 1], xs[j]
        return float(spo.brentq(lambda x: side * spl(x) - zq, min(a, b), max(a, b)))

    def confint(self, level: float | None = None) -> pd.DataFrame:
        """Profile-likelihood confidence intervals (rows: parameters; columns as R's).

        Parameters
        ----------
        level : float, optional
            Defaults to the level the profile was computed for (exact roots); other levels
            are read off the interpolated profile.
        """
        level = self.level if level is None else check_level(level)
        zq = float(stats.norm.ppf(0.5 + level / 2.0))
        lo_name, hi_name = column_labels(level)
        rows = []
        for name in self.parameters:
            pr = self._profs[name]
            rows.append((self._limit(pr, -1, zq), self._limit(pr, 1, zq)))
        out = pd.DataFrame(rows, index=self.parameters, columns=[lo_name, hi_name])
        out.attrs.update(method="profile", level=level)
        return out

    def zeta(self, parm: str, x) -> np.ndarray:
        """``zeta`` at values ``x`` of one parameter, interpolated from the profile."""
        pr = self._get(parm)
        x = np.atleast_1d(np.asarray(x, dtype=float))
        out = np.full(x.shape, np.nan)
        for side in (-1, 1):
            spl, pts = self._spline(pr, side)
            if spl is None:
                continue
            # the exact roots may lie a hair beyond the last point (final Newton correction)
            xs = [p.x for p in pts] + [v for (d, _t), (v, how) in pr.limits.items()
                                       if d == side and how == "root"]
            lo, hi = min(xs), max(xs)
            sel = (x >= lo) & (x <= hi) & (side * (x - pr.estimate) >= 0)
            out[sel] = spl(x[sel])
        return out

    def _get(self, parm: str) -> _ParamProfile:
        if parm not in self._profs:
            raise ValueError(f"parm={parm!r} was not profiled; choose from {self.parameters}")
        return self._profs[parm]

    # ------------------------------------------------------------------ picture
    def plot(self, parm=None, level: float | None = None, transform=None, ax=None,
             col_wrap: int = 3):
        """Plot ``zeta`` against each parameter, with the profile interval marked.

        Parameters
        ----------
        parm : str or list of str, optional
            Which profiled parameters (default: all).
        level : float, optional
            Interval to mark (default: the profile's level).
        transform : callable, optional
            Applied to the parameter axis, e.g. ``numpy.exp`` to show odds ratios.
        ax : matplotlib Axes, optional
            Draw one parameter on this Axes.
        col_wrap : int
            Panels per row when several parameters are drawn.

        Returns
        -------
        matplotlib Axes (one parameter) or Figure (several, one panel each).
        """
        import matplotlib.pyplot as plt
        import seaborn as sns

        names = self.parameters if parm is None else ([parm] if isinstance(parm, str) else parm)
        for n in names:
            self._get(n)
        level = self.level if level is None else check_level(level)
        ci = self.confint(level)
        zq = float(stats.norm.ppf(0.5 + level / 2.0))
        tf = (lambda v: v) if transform is None else transform
        if ax is not None and len(names) != 1:
            raise ValueError("ax= draws one parameter; pass parm='<name>' or leave ax=None")
        if ax is None:
            ncol = min(col_wrap, len(names))
            nrow = math.ceil(len(names) / ncol)
            fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow),
                                     layout="constrained", squeeze=False)
            axes_list = list(axes.ravel())
            for extra in axes_list[len(names):]:
                extra.set_visible(False)
        else:
            fig, axes_list = ax.figure, [ax]
        color = sns.color_palette()[0]
        for a, name in zip(axes_list, names):
            pr = self._profs[name]
            xs = np.array([p.x for p in pr.points])
            grid = np.linspace(xs.min(), xs.max(), 200)
            zg = self.zeta(name, grid)
            sns.lineplot(x=tf(grid), y=zg, ax=a, color=color)
            sns.scatterplot(x=tf(xs), y=[p.zeta for p in pr.points], ax=a, color=color, s=18,
                            zorder=3)
            lo, hi = ci.loc[name].to_numpy()
            a.axhline(zq, color="0.5", ls="--", lw=0.8)
            a.axhline(-zq, color="0.5", ls="--", lw=0.8)
            a.axhline(0.0, color="0.8", lw=0.6)
            if np.isfinite(lo) and np.isfinite(hi):
                a.axvspan(tf(lo), tf(hi), color=color, alpha=0.12)
                for v in (lo, hi):
                    a.axvline(tf(v), color=color, ls=":", lw=1)
            a.axvline(tf(pr.estimate), color="0.3", lw=0.8)
            label = _describe(self.model, name)
            if transform is not None:
                label = f"{getattr(transform, '__name__', 'transformed')}({label})"
            a.set_xlabel(label)
            a.set_ylabel("zeta (signed root of deviance increase)")
            a.set_title(f"Profile of {name}: {level:.0%} interval "
                        f"{tf(lo):.3g} to {tf(hi):.3g}", fontsize="medium")
        if len(names) == 1:
            return axes_list[0]
        fig.suptitle("Likelihood profiles (dashed lines: zeta = "
                     f"+/-{zq:.2f}; shaded: the {level:.0%} profile interval)", fontsize="medium")
        return fig


def _all_sdcor(m, phi: np.ndarray) -> np.ndarray:
    re = m._dev.re
    vals = np.array(phi, dtype=float)
    for k, t in enumerate(m.design.terms):
        idx = np.flatnonzero(re.theta_term == k)
        rc = [re.theta_rc[j] for j in idx]
        vals[idx] = _theta_to_sdcor(phi[idx], rc, t.X.shape[1])
    return vals
