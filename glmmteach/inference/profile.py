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
gradient. Every conditional optimum is warm-started from the nearest profiled point between
the estimate and the new value, moved along the direction ``d phi / d x = H^-1 a / (a' H^-1 a)``
(``a = d x / d phi``) that the Hessian ``H`` at the optimum predicts. Three or four
conditional fits per interval limit suffice.

Random-effect SDs and correlations of a term with several columns are profiled through the
rows ``T_r`` of its factor ``T`` (``Sigma = T T'``, so an SD is the length of a row and a
correlation the cosine of the angle between two rows), with all other parameters kept as
``theta``; this needs no Cholesky factor of the correlation matrix and so works at singular
fits, where that matrix is singular (see :class:`_ParamMap`).

Imports ``glmmteach.model``, ``glmmteach._util`` and other ``inference`` modules; never
``diagnostics`` or ``course``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize as spo
from scipy import stats
from scipy.interpolate import CubicHermiteSpline

from glmmteach._util.numdiff import hessian_from_gradient
from glmmteach._util.runtime import single_threaded_blas
from glmmteach._util.validate import check_level
from glmmteach.warnings import ConvergenceWarning, ProfileWarning, warn

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
    re = m.model.re
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
    n_theta = len(m.theta)
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


def _flat_sdcor(re, theta: np.ndarray) -> np.ndarray:
    """``theta`` on the SD / correlation scale, in theta's order (NaN correlations at SD 0)."""
    per_term = re.sdcor(theta)
    out = np.empty(re.n_theta)
    for j, (k, (r, c)) in enumerate(zip(re.theta_term, re.theta_rc)):
        sd, cor = per_term[k]
        out[j] = sd[r] if r == c else cor[r, c]
    return out


def sdcor_estimates(m) -> pd.Series:
    """The random-effect SDs and correlations and the fixed effects, named as in confint.

    This is the parameter vector on the scale of the profiles (and of lme4's ``profile`` with
    ``prof.scale = "sdcor"``); it is also the default statistic of the parametric bootstrap.
    """
    vals = _flat_sdcor(m.model.re, m.opt.theta)
    return pd.Series(np.concatenate([vals, m.opt.beta]), index=parameter_names(m),
                     name="estimate")


def _canonical(re, phi: np.ndarray) -> np.ndarray:
    """The same covariance with every diagonal of ``T`` made >= 0 (flip columns' signs).

    ``Sigma = T T'`` does not change when a column of ``T`` changes sign, so this picks, among
    the factors of the same model, the one in lme4's parameter space (diagonals >= 0).
    """
    phi = np.array(phi, dtype=float)
    for k, T in enumerate(re.term_T(phi[: re.n_theta])):
        neg = np.diag(T) < 0
        if not np.any(neg):
            continue
        T[:, neg] = -T[:, neg]
        for j in np.flatnonzero(re.theta_term == k):
            phi[j] = T[re.theta_rc[j]]
    return phi


class _Degenerate(ArithmeticError):
    """The coordinates do not define a point (a direction vector of length 0)."""


class _ParamMap:
    """Coordinates of the conditional fits when parameter ``i`` is profiled.

    ``phi = (theta, beta)`` is written as the focal value ``x`` and the free parameters
    ``nu``. For a fixed effect or the SD of a scalar term, ``x = phi[i]`` and ``nu`` is the
    rest of ``phi``. For a parameter of a term with ``q > 1`` columns only the row ``r`` of
    its factor ``T`` that carries the focal parameter is re-parameterized (all other entries
    of ``theta`` and ``beta`` stay as they are, with their bounds), using
    ``Sigma[a, b] = T_a . T_b`` for the rows ``T_a`` of ``T``:

    * the SD of column ``r`` is the length of row ``r``: ``T_r = x v / |v|``, with ``v`` (as
      many entries as the row) free;
    * the correlation of columns ``r > c`` is the cosine of the angle between the rows:
      ``T_r = s (x u_c + sqrt(1 - x^2) w)``, with ``u_c = T_c / |T_c|``, the length ``s >= 0``
      free and ``w`` the unit vector along the part of a free ``v`` orthogonal to ``u_c``.

    Neither needs the correlation matrix to be positive definite (no Cholesky factor of it),
    so profiles work at singular fits, where some row of ``T`` is a combination of the
    others. ``v`` carries one redundant degree of freedom (its length, and for a correlation
    its component along ``u_c``), which the optimizer does not mind.
    """

    def __init__(self, re, p: int, i: int) -> None:
        self.i = i
        self.n_phi = re.n_theta + p
        lower_phi = np.concatenate([re.lower, np.full(p, -np.inf)])
        self.kind = "plain"
        self.focal_bound = (float(lower_phi[i]), np.inf)
        if i < re.n_theta:
            k = int(re.theta_term[i])
            if re.terms[k].X.shape[1] > 1:
                pos = {re.theta_rc[j]: int(j) for j in np.flatnonzero(re.theta_term == k)}
                r, c = re.theta_rc[i]
                self.r, self.c = r, c
                self.row = np.array([pos[(r, b)] for b in range(r + 1)])
                if r == c:
                    self.kind = "sd"
                    self.focal_bound = (0.0, np.inf)
                else:
                    self.kind = "cor"
                    self.focal_bound = (-1.0, 1.0)
                    self.crow = np.array([pos[(c, b)] for b in range(c + 1)])
        drop = [i] if self.kind == "plain" else list(self.row)
        self.keep = np.array([j for j in range(self.n_phi) if j not in drop], dtype=int)
        self.nk = len(self.keep)
        extra_lo: list[float] = []
        if self.kind == "sd":
            extra_lo = [-np.inf] * (self.r + 1)
        elif self.kind == "cor":
            extra_lo = [0.0] + [-np.inf] * (self.r + 1)
            where = {int(j): a for a, j in enumerate(self.keep)}
            self.crow_in_nu = np.array([where[int(j)] for j in self.crow])
        self.lower = np.concatenate([lower_phi[self.keep], extra_lo])
        self.upper = np.full(len(self.lower), np.inf)
        self.n_free = len(self.lower)
        # where each element of theta sits in nu (the focal row's elements: their entry of v)
        where_nu = {int(j): a for a, j in enumerate(self.keep)}
        if self.kind != "plain":
            first_v = self.nk + (1 if self.kind == "cor" else 0)
            for b, j in enumerate(self.row):
                where_nu[int(j)] = first_v + b
        # each diagonal element of a T: (position in phi, positions in phi of the elements
        # below it in its column, positions in nu of the whole column)
        self.diag = []
        for j in range(re.n_theta):
            r, c = re.theta_rc[j]
            if r != c or j not in where_nu:  # (a focal SD of a scalar term is held fixed)
                continue
            k = re.theta_term[j]
            below = [int(b) for b in np.flatnonzero(re.theta_term == k)
                     if re.theta_rc[b][1] == c and re.theta_rc[b][0] > c]
            self.diag.append((j, below, [where_nu[j]] + [where_nu[b] for b in below]))

    # ------------------------------------------------------------------ helpers
    def _unit_c(self, phi: np.ndarray) -> tuple[np.ndarray, float]:
        """``u_c`` (padded to the length of row r) and ``|T_c|``."""
        Tc = np.zeros(self.r + 1)
        Tc[: self.c + 1] = phi[self.crow]
        nc = float(np.linalg.norm(Tc))
        if nc > 0:
            return Tc / nc, nc
        uc = np.zeros(self.r + 1)
        uc[self.c] = 1.0  # any unit vector: the correlation is undefined when T_c = 0
        return uc, nc

    def _e_r(self) -> np.ndarray:
        e = np.zeros(self.r + 1)
        e[self.r] = 1.0  # orthogonal to every row above r, so a valid direction for w
        return e

    # ------------------------------------------------------------------ maps
    def to_phi(self, x: float, nu: np.ndarray) -> np.ndarray:
        phi = np.empty(self.n_phi)
        phi[self.keep] = nu[: self.nk]
        if self.kind == "plain":
            phi[self.i] = x
        elif self.kind == "sd":
            v = nu[self.nk:]
            nv = float(np.linalg.norm(v))
            if nv == 0.0:
                raise _Degenerate
            phi[self.row] = x * v / nv
        else:
            s, v = nu[self.nk], nu[self.nk + 1:]
            uc, _ = self._unit_c(phi)
            y = v - uc * (uc @ v)
            ny = float(np.linalg.norm(y))
            if ny == 0.0:
                raise _Degenerate
            a = math.sqrt(max(1.0 - x * x, 0.0))
            phi[self.row] = s * (x * uc + a * y / ny)
        return phi

    def from_phi(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        """``(x, nu)`` with ``to_phi(x, nu) == phi`` (``x`` NaN for an undefined correlation)."""
        phi = np.asarray(phi, dtype=float)
        head = phi[self.keep]
        if self.kind == "plain":
            return float(phi[self.i]), head.copy()
        Tr = phi[self.row]
        nr = float(np.linalg.norm(Tr))
        if self.kind == "sd":
            v = Tr / nr if nr > 0 else self._e_r()
            return nr, np.concatenate([head, v])
        uc, nc = self._unit_c(phi)
        y = Tr - uc * (uc @ Tr)
        ny = float(np.linalg.norm(y))
        v = y / ny if ny > 1e-12 * nr and ny > 0 else self._e_r()
        x = float(np.clip(uc @ Tr / nr, -1.0, 1.0)) if nr > 0 and nc > 0 else np.nan
        return x, np.concatenate([head, [nr], v])

    def pullback(self, x: float, nu: np.ndarray, g_phi: np.ndarray) -> tuple[float, np.ndarray]:
        """The gradient in ``(x, nu)`` from the gradient ``g_phi`` in ``phi`` (chain rule)."""
        g_phi = np.asarray(g_phi, dtype=float)
        g = np.zeros(self.n_free)
        g[: self.nk] = g_phi[self.keep]
        if self.kind == "plain":
            return float(g_phi[self.i]), g
        gr = g_phi[self.row]
        if self.kind == "sd":
            v = nu[self.nk:]
            nv = float(np.linalg.norm(v))
            u = v / nv
            g[self.nk:] = x * (gr - u * (u @ gr)) / nv
            return float(u @ gr), g
        s, v = nu[self.nk], nu[self.nk + 1:]
        phi_head = np.empty(self.n_phi)
        phi_head[self.keep] = nu[: self.nk]
        uc, nc = self._unit_c(phi_head)
        y = v - uc * (uc @ v)
        ny = float(np.linalg.norm(y))
        w = y / ny
        a = math.sqrt(max(1.0 - x * x, 0.0))
        g[self.nk] = float(gr @ (x * uc + a * w))
        gx = s * float(gr @ uc - (x / a) * (gr @ w)) if a > 0 else np.nan
        h = s * a * (gr - w * (w @ gr)) / ny  # d f / d y
        g[self.nk + 1:] = h - uc * (uc @ h)
        if nc > 0:
            # T_r depends on u_c directly and through the projection that defines w
            du = s * x * gr - (uc @ v) * h - (h @ uc) * v
            gTc = (du - uc * (uc @ du)) / nc
            g[self.crow_in_nu] += gTc[: self.c + 1]
        return gx, g

    def escape(self, x: float, nu: np.ndarray | None, g_phi: np.ndarray | None):
        """A restart away from ``T_r = 0`` for a correlation, or None.

        With the length ``s`` of row ``r`` at its bound 0, the direction ``w`` has no
        gradient, so the optimizer cannot turn the row to a direction in which it could grow.
        The best direction is ``w = -P g / |P g|`` (``g`` the gradient in ``T_r``, ``P`` the
        projection orthogonal to ``u_c``); growing the row along ``x u_c + sqrt(1 - x^2) w``
        lowers the deviance when ``x g.u_c - sqrt(1 - x^2) |P g| < 0``.
        """
        if self.kind != "cor" or nu is None or nu[self.nk] > 1e-6:
            return None
        phi = self.to_phi(x, nu)
        gr = np.asarray(g_phi, dtype=float)[self.row]
        uc, _ = self._unit_c(phi)
        pg = gr - uc * (uc @ gr)
        npg = float(np.linalg.norm(pg))
        a = math.sqrt(max(1.0 - x * x, 0.0))
        if npg == 0.0 or x * float(gr @ uc) - a * npg >= 0.0:
            return None  # T_r = 0 is a local minimum
        out = np.array(nu, dtype=float)
        out[self.nk] = 0.1
        out[self.nk + 1:] = -pg / npg
        return out

    def focal_gradient(self, phi: np.ndarray) -> np.ndarray:
        """``d x / d phi`` at ``phi`` (NaN where the focal parameter is not differentiable)."""
        a = np.zeros(self.n_phi)
        if self.kind == "plain":
            a[self.i] = 1.0
            return a
        Tr = phi[self.row]
        nr = float(np.linalg.norm(Tr))
        if nr == 0:
            return np.full(self.n_phi, np.nan)
        if self.kind == "sd":
            a[self.row] = Tr / nr
            return a
        uc, nc = self._unit_c(phi)
        if nc == 0:
            return np.full(self.n_phi, np.nan)
        ur = Tr / nr
        rho = float(uc @ ur)
        a[self.row] = (uc - rho * ur) / nr
        a[self.crow] = ((ur - rho * uc) / nc)[: self.c + 1]
        return a


# --------------------------------------------------------------------------------------------
# Profiling
# --------------------------------------------------------------------------------------------


@dataclass
class _Point:
    x: float
    zeta: float
    slope: float  # d zeta / d x
    phi: np.ndarray  # (theta, beta) at the conditional optimum (canonical: diagonals >= 0)
    dev: float
    capped: bool = False  # a correlation's point where an SD of 0 fits better (see _cor_cap)


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


class _Profiler:
    """Conditional optimization of the deviance with one parameter held fixed."""

    def __init__(self, m) -> None:
        _check_profilable(m)
        self.m = m
        self.dev = m.model.deviance()  # a fresh closure of the fit's objective
        self.u_hat = m.u
        self.dev.reset_modes(self.u_hat)
        self.re = m.model.re
        self.p = self.dev.p
        self.phi_hat = np.array(m.opt.phi, dtype=float)
        self.f_hat = float(m.opt.fun)
        H = m.opt.hessian
        if H is None:
            H = hessian_from_gradient(self.dev.grad, self.phi_hat)
        try:
            self.Hinv = np.linalg.inv(np.asarray(H, dtype=float))
        except np.linalg.LinAlgError:
            self.Hinv = None
        self.names = parameter_names(m)
        self.lower_found = 0.0  # largest deviance decrease below the fit's optimum
        self._sd_zero: dict[int, tuple[float, np.ndarray]] = {}

    def _quadratic(self, pmap: _ParamMap) -> tuple[float, np.ndarray]:
        """Wald SE of the focal parameter and the direction ``d phi / d x`` of the optimum.

        With ``a = d x / d phi`` and ``H`` the Hessian of the deviance, the quadratic
        approximation gives ``Var(x) = 2 a' H^-1 a`` and, minimizing it with ``a' dphi = dx``
        held fixed, ``dphi = H^-1 a / (a' H^-1 a) dx``.
        """
        a = pmap.focal_gradient(self.phi_hat)
        if self.Hinv is None or not np.all(np.isfinite(a)):
            return np.nan, np.zeros(pmap.n_phi)
        Ha = self.Hinv @ a
        var = float(a @ Ha)
        if not (var > 0 and np.all(np.isfinite(Ha))):
            return np.nan, np.zeros(pmap.n_phi)
        return math.sqrt(2.0 * var), Ha / var

    def _conditional(self, pmap: _ParamMap, x: float, nu0: np.ndarray):
        from glmmteach.model.pirls import PirlsError

        lo, hi = pmap.lower, pmap.upper
        best: dict = {"f": np.inf}
        dev = self.dev
        # PIRLS warm-starts from the last conditional modes; after a far step of a line
        # search in the previous fit they can be far off, so start from the fit's modes
        dev.reset_modes(self.u_hat)
        penalty = self.f_hat + 1e8

        def fun(nu):
            try:
                phi = pmap.to_phi(x, nu)
            except _Degenerate:
                return penalty, np.zeros(pmap.n_free)
            try:
                f, g = dev.value_and_grad(phi)
            except (PirlsError, np.linalg.LinAlgError, FloatingPointError):
                return penalty, np.zeros(pmap.n_free)  # a step too far: the search backtracks
            if not np.isfinite(f):
                return penalty, np.zeros(pmap.n_free)
            gx, gnu = pmap.pullback(x, nu, g)
            if f < best["f"]:
                best.update(f=float(f), phi=phi, gx=gx, nu=np.array(nu), g=g)
            return f, gnu

        nu0 = np.clip(nu0, lo, hi)
        if pmap.n_free == 0:
            fun(nu0)
        else:
            bounds = [(a if np.isfinite(a) else None, b if np.isfinite(b) else None)
                      for a, b in zip(lo, hi)]
            for _ in range(4):
                spo.minimize(fun, nu0, jac=True, method="L-BFGS-B", bounds=bounds,
                             options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-7,
                                      "maxcor": 20})
                if "nu" not in best:
                    break
                nu0 = pmap.escape(x, best["nu"], best["g"])
                if nu0 is None:
                    nu0 = self._leave_zero_diagonal(pmap, x, best, fun)
                if nu0 is None:
                    break
        if not np.isfinite(best["f"]):
            raise FloatingPointError(
                f"the deviance is not finite with {self.names[pmap.i]} = {x}")
        return best["f"], _canonical(self.re, best["phi"]), float(best["gx"])

    def _sd_zero_fit(self, j: int) -> tuple[float, np.ndarray]:
        """The deviance minimized with the SD of theta element ``j`` (a diagonal) held at 0."""
        if j not in self._sd_zero:
            pmap = _ParamMap(self.re, self.p, j)
            _, nu0 = pmap.from_phi(self.phi_hat)
            f, phi, _ = self._conditional(pmap, 0.0, nu0)
            self._sd_zero[j] = (f, phi)
        return self._sd_zero[j]

    def _cor_cap(self, pmap: _ParamMap) -> tuple[float, np.ndarray]:
        """The smallest deviance with one of a correlation's two SDs at 0.

        A correlation is undefined when either SD is 0, so every correlation is attained
        arbitrarily close to such a point: the profiled deviance of a correlation is at most
        this, at every value (its profile is flat beyond the point where the fits with the
        correlation held fixed become worse than dropping one of the two random effects).
        """
        diag = {self.re.theta_rc[j]: j for j in np.flatnonzero(
            self.re.theta_term == self.re.theta_term[pmap.i])}
        fits = [self._sd_zero_fit(diag[(a, a)]) for a in (pmap.r, pmap.c)]
        return min(fits, key=lambda t: t[0])

    @staticmethod
    def _leave_zero_diagonal(pmap: _ParamMap, x: float, best: dict, fun):
        """A restart with a diagonal element of ``T`` moved off 0 when that lowers the
        deviance, or None.

        The deviance does not change when a column of ``T`` changes sign. So with a diagonal
        element ``T[j, j]`` at 0 the signs of the elements below it are arbitrary, and the
        derivative in ``T[j, j]`` changes sign with them: a point where it is positive (a
        minimum under the bound ``T[j, j] >= 0``) can have a descent direction after the
        flip. When the whole column is 0 its gradient is 0 whether 0 is a minimum or not,
        and a gradient-based optimizer never leaves it; then the curvature decides (the
        smallest eigenvalue of the Hessian in the column, by differences of the gradient).
        Both happen along the profiles of singular fits, whose estimates have such columns.
        """
        phi, f = best["phi"], best["f"]
        for j, below, col in pmap.diag:
            if abs(phi[j]) > 1e-4:  # the optimizer stops near, not at, a stationary 0
                continue
            base_phi = np.array(phi, dtype=float)
            base_phi[j] = 0.0
            if np.max(np.abs(phi[below]), initial=0.0) > 1e-4:
                # first order: try the column's other sign
                flipped = base_phi.copy()
                flipped[below] = -flipped[below]
                for trial_phi in (base_phi, flipped):
                    _, trial = pmap.from_phi(trial_phi)
                    trial[col[0]] = 1e-3
                    f_t, g_t = fun(trial)
                    if g_t[col[0]] < -1e-7 or f_t < f - 1e-9:
                        trial[col[0]] = 0.1
                        return trial
                continue
            # second order: the column is 0
            base_phi[below] = 0.0
            _, base = pmap.from_phi(base_phi)
            base[col] = 0.0
            _, g0 = fun(base)
            eps = 1e-4
            C = np.empty((len(col), len(col)))
            for k, a in enumerate(col):
                trial = base.copy()
                trial[a] = eps
                f_t, g_t = fun(trial)
                C[:, k] = (g_t[col] - g0[col]) / eps
            lam, vec = np.linalg.eigh(0.5 * (C + C.T))
            if lam[0] < -1e-6:
                e = vec[:, 0] if vec[0, 0] >= 0 else -vec[:, 0]
                trial = base.copy()
                trial[col] = 0.1 * e
                return trial
        return None

    def _start(self, i: int) -> dict:
        """What profiling parameter ``i`` starts from: the coordinates, the estimate, the
        quadratic approximation there and, for a correlation, its cap (see _cor_cap)."""
        pmap = _ParamMap(self.re, self.p, i)
        x_hat, _ = pmap.from_phi(self.phi_hat)
        kind = "beta" if i >= self.re.n_theta else (
            "sd" if self.re.theta_rc[i][0] == self.re.theta_rc[i][1] else "cor")
        out = {"pmap": pmap, "kind": kind, "x_hat": x_hat, "se": np.nan,
               "direction": np.zeros(pmap.n_phi), "cap": None}
        if kind == "cor" and not np.isfinite(x_hat):
            return out  # an SD of the pair is 0: the correlation is undefined
        if kind == "cor" and abs(x_hat) > 1.0 - _COR_EPS:
            # on the boundary: the quadratic approximation does not apply
            out["x_hat"] = math.copysign(1.0, x_hat)
        else:
            out["se"], out["direction"] = self._quadratic(pmap)
        if kind == "cor":
            out["cap"] = self._cor_cap(pmap)
        return out

    def zeta_at(self, i: int, x: float) -> float:
        """``zeta`` of parameter ``i`` at ``x`` from one conditional fit (no interpolation),
        warm-started from the estimate; for checks against other software's profiles."""
        st = self._start(i)
        if not np.isfinite(st["x_hat"]):
            return 0.0
        p0 = _Point(st["x_hat"], 0.0, np.nan, self.phi_hat, self.f_hat)
        return self._evaluate(st["pmap"], float(x), p0, st["direction"], st["x_hat"],
                              st["cap"]).zeta

    def profile_param(self, i: int, targets: list[float]) -> _ParamProfile:
        st = self._start(i)
        pmap, kind, x_hat, se = st["pmap"], st["kind"], st["x_hat"], st["se"]
        bound = pmap.focal_bound
        if not np.isfinite(x_hat):
            # an SD of the pair is estimated as 0: the correlation is undefined, and every
            # value of it is attained arbitrarily close to the optimum, so the profiled
            # deviance is flat and the interval is the whole range
            prof = _ParamProfile(self.names[i], kind, np.nan, np.nan, bound=bound)
            for side, lim in ((-1, -1.0), (1, 1.0)):
                for t in targets:
                    prof.limits[(side, t)] = (lim, "boundary")
                prof.reached[side] = np.inf
            return prof
        prof = _ParamProfile(self.names[i], kind, x_hat, se, bound=bound)
        p0 = _Point(x_hat, 0.0, 1.0 / se if se > 0 else np.nan, self.phi_hat, self.f_hat)
        prof.points.append(p0)
        for side in (-1, 1):
            self._side(prof, pmap, side, sorted(targets), st["direction"], st["cap"])
        prof.points.sort(key=lambda p: p.x)
        return prof

    def _evaluate(self, pmap: _ParamMap, x: float, near: _Point, direction,
                  x_hat: float, cap=None) -> _Point:
        x_eval = x
        if pmap.kind == "cor":
            x_eval = float(np.clip(x, -1.0 + _COR_EPS, 1.0 - _COR_EPS))
        phi0 = near.phi + direction * (x_eval - near.x)
        _, nu0 = pmap.from_phi(phi0)
        f, phi, g = self._conditional(pmap, x_eval, nu0)
        capped = cap is not None and cap[0] < f
        if capped:
            f, phi, g = cap[0], cap[1], 0.0
        delta = f - self.f_hat
        if delta < -_DEVTOL:
            self.lower_found = max(self.lower_found, -delta)
        z = math.copysign(math.sqrt(max(delta, 0.0)), x - x_hat)
        slope = g / (2.0 * z) if z != 0 else np.nan
        return _Point(x, z, slope, phi, f, capped)

    def _side(self, prof: _ParamProfile, pmap: _ParamMap, d: int, targets, direction,
              cap=None) -> None:
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
                # bracket the first crossing of the target seen from the estimate: the
                # innermost point past the target and the outermost point inside it (the
                # profile of a correlation need not be monotone, see _cor_cap)
                outers = [p for p in pts if d * p.zeta >= t]
                outer = min(outers, key=lambda p: d * (p.x - x_hat)) if outers else None
                inner = max((p for p in pts if d * p.zeta < t
                             and (outer is None or d * (p.x - outer.x) < 0)),
                            key=lambda p: d * (p.x - x_hat))
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
                # continue from the nearest point between the estimate and x_new: a point
                # beyond x_new may sit in another basin (e.g. a correlation's profile past
                # the point where an SD of 0 fits better)
                inside = [p for p in pts if d * (p.x - x_new) <= 0 and not p.capped] or pts
                start = min(inside, key=lambda p: abs(p.x - x_new))
                try:
                    pt = self._evaluate(pmap, x_new, start, direction, x_hat, cap)
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

    Random-effect parameters are profiled on the SD / correlation scale (the profile does
    not depend on how the other parameters are parameterized, only on the focal one). For a
    term with ``q`` columns and factor ``T`` (``Sigma = T T'``), the SD of column ``r`` is the
    length of row ``T_r`` and the correlation of columns ``r`` and ``c`` the cosine of the
    angle between ``T_r`` and ``T_c``; only that row is re-parameterized (its length, or its
    angle to ``T_c``, held fixed), the other parameters are re-optimized as ``theta`` and
    ``beta``. Unlike ``T = D chol(R)`` this also covers singular fits, whose correlation
    matrix ``R`` is singular (a variance at 0, or a correlation at +/-1, or a column of
    random effects that is a combination of the others).

    Two properties of such profiles: a correlation is undefined when either of its SDs is 0,
    so every value of it is attained arbitrarily close to the fit with that SD at 0, and its
    profiled deviance never exceeds that fit's deviance; when that is within ``z^2`` of the
    optimum, the limit is -1 or 1. And because the deviance does not change when a column of
    ``T`` changes sign, a diagonal element of ``T`` at 0 is a stationary point that a
    gradient-based optimizer never leaves; each conditional fit checks such elements (the
    gradient with the column's other sign, the curvature of a zero column) and restarts from
    the lower side.

    Agreement with lme4 at singular fits: lme4 re-optimizes the other parameters on the SD /
    correlation scale through ``chol(R)``, which does not exist when ``R`` is singular; its
    profiles of such fits can stop short of the optimum in each conditional fit (so its
    intervals come out too narrow) or report values at parameters with an indefinite ``R``.
    """
    level = check_level(level)
    if alphamax is not None:
        if isinstance(alphamax, bool) or not isinstance(alphamax, (int, float)) or not (
                0.0 < alphamax < 1.0):
            raise ValueError(f"alphamax must be a number in (0, 1) or None, not {alphamax!r}")
        alphamax = float(alphamax)
    idx = resolve_parm(m, parm)
    _check_profilable(m)

    z = float(stats.norm.ppf(0.5 + level / 2.0))
    targets = [z]
    if alphamax is not None:
        zmax = float(stats.norm.ppf(1.0 - alphamax / 2.0))
        if zmax > z + 1e-9:
            targets.append(zmax)
    with single_threaded_blas():
        pr = _Profiler(m)
        profs = [pr.profile_param(i, targets) for i in idx]
    if pr.lower_found > 0:
        warn(f"profiling found a deviance {pr.lower_found:.3g} below the fitted model's: the "
             "fit had not reached the optimum, so the profile (and its intervals) are "
             "approximate. Refit the model (e.g. with centred and scaled predictors) and "
             "profile again.", ConvergenceWarning)
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
    """Likelihood profiles of a fitted model (returned by :func:`profile`).

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
        re = m.model.re
        for name, pr in self._profs.items():
            for pt in pr.points:
                row = {"parameter": name, "value": pt.x, "zeta": pt.zeta, "deviance": pt.dev}
                vals = np.concatenate([_flat_sdcor(re, pt.phi[: re.n_theta]),
                                       pt.phi[re.n_theta:]])
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
                    warn(f"the {'lower' if side < 0 else 'upper'} profile limit of {pr.name} "
                         "was not found (the profile is flat or not monotone there); it is NaN. "
                         "Plot the profile to see why, or use method='boot'",
                         ConvergenceWarning)
                return float(val)
        reached = pr.reached.get(side, 0.0)
        if zq > reached + 1e-9:
            lev = 2.0 * stats.norm.cdf(zq) - 1.0
            warn(f"the profile of {pr.name} stops at |zeta| = {reached:.3g} on this side, short "
                 f"of {zq:.3g}, so its limit at level {lev:.4g} is NaN; call "
                 "profile(level=...) with this level", ProfileWarning)
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
            if len(xs) == 0:  # a correlation whose SD is estimated as 0: nothing to draw
                a.text(0.5, 0.5, f"{name}: undefined at the estimate (an SD is 0);\n"
                       "its profile is flat and the interval is -1 to 1",
                       ha="center", va="center", transform=a.transAxes, fontsize="small")
                a.set_xlim(-1.0, 1.0)
                a.set_xlabel(_describe(self.model, name))
                continue
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

