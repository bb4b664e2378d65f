"""Optimizing a deviance closure, with lme4's convergence and singularity checks.

The Laplace (``nAGQ = 1``) fit minimizes ``f(theta, beta)`` jointly with L-BFGS-B and the
exact gradient (lower bound 0 on the diagonal elements of each ``T_k``, so a variance can be
estimated as exactly 0), then takes Newton steps with a finite-difference Hessian of the
exact gradient to polish the optimum. That Hessian is also what the standard errors come from,
as lme4's default ``use.hessian = TRUE``: ``vcov(beta) = [2 H^{-1}]_{beta, beta}``.

Adaptive quadrature (``nAGQ > 1``) starts from the Laplace optimum and uses central
differences. ``nAGQ = 0`` optimizes ``theta`` alone with ``beta`` from joint PIRLS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize as spo

from glmmteach._util.numdiff import central_gradient, hessian_from_gradient, hessian_from_values
from glmmteach.model.deviance import AGQDeviance, LaplaceDeviance, NAGQ0Deviance
from glmmteach.warnings import ConvergenceWarning, SeparationWarning, SingularFitWarning, warn

__all__ = ["OptResult", "fit_laplace", "fit_agq", "fit_nagq0", "check_convergence",
           "SINGULAR_TOL"]

SINGULAR_TOL = 1e-4  # lme4's isSingular() tolerance on theta's diagonal elements
GRAD_TOL = 2e-3  # lme4's check.conv.grad tolerance on the scaled gradient
SEPARATION_BETA = 15.0  # |beta| beyond this on the link scale: a probability of 1 - 3e-7


@dataclass
class OptResult:
    """What the optimizer found: the parameters, the deviance there, and its derivatives."""

    phi: np.ndarray
    n_theta: int
    fun: float
    grad: np.ndarray
    hessian: np.ndarray | None
    vcov_beta: np.ndarray
    evaluations: int
    iterations: int
    method: str
    messages: list[str] = field(default_factory=list)
    singular: bool = False
    converged: bool = True

    @property
    def theta(self) -> np.ndarray:
        return self.phi[: self.n_theta]

    @property
    def beta(self) -> np.ndarray:
        return self.phi[self.n_theta :]


def _bounds(lower: np.ndarray):
    return [(lo if np.isfinite(lo) else None, None) for lo in lower]






def _escape_zero_variance(fun, phi: np.ndarray, lower: np.ndarray, restart,
                          tries: int = 2) -> np.ndarray:
    """Check a fit with a variance at exactly 0 against restarts away from the boundary.

    A bound-constrained optimizer that reaches ``theta_j = 0`` can stop in the wrong basin:
    when ``theta_j = 0`` the deviance is even in ``theta_j`` (so its gradient there is 0 even
    if 0 is a maximum), and with random slopes the landscape is not convex (a better optimum
    can have ``theta_j > 0`` with the other parameters moved). So for each diagonal element
    at 0, restart the optimizer from the same point with that element set to 0.1 and keep
    whichever optimum is lower. Cheap: it only runs for singular fits.
    """
    f_best = fun(phi)
    for _ in range(tries):
        at_zero = np.flatnonzero(np.isfinite(lower) & (phi <= lower))
        if at_zero.size == 0:
            return phi
        improved = False
        for j in at_zero[:4]:
            cand = phi.copy()
            cand[j] = 0.1
            new = restart(cand)
            f_new = fun(new)
            if f_new < f_best - 1e-7:
                phi, f_best, improved = new, f_new, True
        if not improved:
            return phi
    return phi


def _on_boundary(phi: np.ndarray, lower: np.ndarray) -> np.ndarray:
    return np.isfinite(lower) & (phi <= lower + 1e-12)


def _vcov_beta(H: np.ndarray, n_theta: int) -> tuple[np.ndarray, list[str]]:
    """``[2 H^{-1}]`` restricted to beta; falls back to the beta block if H is singular."""
    msgs = []
    try:
        np.linalg.cholesky(H)
        V = 2.0 * np.linalg.inv(H)[n_theta:, n_theta:]
    except np.linalg.LinAlgError:
        Hb = H[n_theta:, n_theta:]
        try:
            V = 2.0 * np.linalg.inv(Hb)
            msgs.append("the Hessian in (theta, beta) is not positive definite; standard "
                        "errors are conditional on the estimated variance components")
        except np.linalg.LinAlgError:
            V = np.full_like(Hb, np.nan)
            msgs.append("the Hessian is singular; standard errors are not available")
    return 0.5 * (V + V.T), msgs


def fit_laplace(dev: LaplaceDeviance, start: np.ndarray | None = None,
                compute_hessian: bool = True) -> OptResult:
    """Minimize the Laplace deviance over ``(theta, beta)``.

    Parameters
    ----------
    dev : LaplaceDeviance
    start : ndarray, optional
        Starting ``(theta, beta)``; defaults to ``dev.start()`` (identity ``T``, GLM ``beta``).
    compute_hessian : bool
        Compute the Hessian and standard errors (skip for quick refits that need only the
        estimates).
    """
    phi0 = dev.start() if start is None else np.asarray(start, dtype=float).copy()
    lower = dev.lower

    def run(x0):
        r = spo.minimize(dev.value_and_grad, x0, jac=True, method="L-BFGS-B",
                         bounds=_bounds(lower),
                         options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-7, "maxcor": 20})
        return r, np.where(np.isfinite(lower), np.maximum(r.x, lower), r.x)

    res, phi = run(phi0)
    phi = _escape_zero_variance(dev, phi, lower, lambda x: run(x)[1])
    f, g = dev.value_and_grad(phi)
    H = None
    msgs: list[str] = []
    if compute_hessian:
        H = hessian_from_gradient(dev.grad, phi)
        # Newton polishing on the free parameters
        for _ in range(3):
            free = ~_on_boundary(phi, lower)
            if not np.any(free) or np.max(np.abs(g[free])) < 1e-9:
                break
            try:
                step = np.linalg.solve(H[np.ix_(free, free)], -g[free])
            except np.linalg.LinAlgError:
                break
            cand = phi.copy()
            cand[free] += step
            if np.any(cand < lower):
                break
            f_new, g_new = dev.value_and_grad(cand)
            if f_new > f + 1e-10:
                break
            phi, f, g = cand, f_new, g_new
        V, vmsgs = _vcov_beta(H, dev.n_theta)
        msgs += vmsgs
    else:
        V = np.full((dev.p, dev.p), np.nan)
    out = OptResult(phi=phi, n_theta=dev.n_theta, fun=f, grad=g, hessian=H, vcov_beta=V,
                    evaluations=dev.evaluations, iterations=int(res.nit), method="L-BFGS-B",
                    messages=msgs)
    if not res.success and "ABNORMAL" not in str(res.message):
        out.messages.append(f"optimizer: {res.message}")
    return out


def fit_agq(dev: AGQDeviance, start: np.ndarray) -> OptResult:
    """Minimize the adaptive Gauss-Hermite deviance, starting from the Laplace optimum."""
    lower = dev.lower
    res = spo.minimize(dev.value_and_grad, np.asarray(start, dtype=float), jac=True,
                       method="L-BFGS-B", bounds=_bounds(lower),
                       options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-6})
    phi = np.where(np.isfinite(lower), np.maximum(res.x, lower), res.x)
    f = dev(phi)
    g = central_gradient(dev, phi)
    H = hessian_from_values(dev, phi)
    V, msgs = _vcov_beta(H, dev.n_theta)
    return OptResult(phi=phi, n_theta=dev.n_theta, fun=f, grad=g, hessian=H, vcov_beta=V,
                     evaluations=dev.evaluations, iterations=int(res.nit), method="L-BFGS-B",
                     messages=msgs)


def fit_nagq0(dev: NAGQ0Deviance) -> tuple[OptResult, object]:
    """Minimize the ``nAGQ = 0`` deviance over ``theta``; ``beta`` comes from joint PIRLS."""
    theta0 = dev.re.theta_start()
    lower = dev.re.lower

    def run(x0):
        r = spo.minimize(dev.theta_objective, x0, method="Nelder-Mead", bounds=_bounds(lower),
                         options={"maxiter": 4000, "xatol": 1e-9, "fatol": 1e-11,
                                  "initial_simplex": _simplex(x0)})
        return r, np.where(np.isfinite(lower), np.maximum(r.x, lower), r.x)

    res, theta = run(theta0)
    theta = _escape_zero_variance(dev.theta_objective, theta, lower, lambda x: run(x)[1])
    st, beta, S = dev.joint_state(theta)
    g = central_gradient(dev.theta_objective, theta)
    V = np.linalg.inv(S)
    phi = np.concatenate([theta, beta])
    out = OptResult(phi=phi, n_theta=dev.n_theta, fun=st.laplace,
                    grad=np.concatenate([g, np.zeros(len(beta))]), hessian=None,
                    vcov_beta=0.5 * (V + V.T), evaluations=dev.evaluations,
                    iterations=int(res.nit), method="Nelder-Mead (theta only)")
    return out, st


def _simplex(x0: np.ndarray, step: float = 0.25) -> np.ndarray:
    k = len(x0)
    sim = np.tile(x0, (k + 1, 1))
    for j in range(k):
        sim[j + 1, j] += step
    return sim


def check_convergence(opt: OptResult, lower_theta: np.ndarray) -> None:
    """lme4-style checks: singular fit, scaled gradient, Hessian; warn with advice.

    Each problem is recorded in ``opt.messages`` (so the summary reports it, as lme4's does)
    and emitted as a warning attributed to the caller's line.

    Notes
    -----
    As lme4's ``checkConv``: with ``H = R'R`` (Cholesky) the scaled gradient is
    ``R^{-T} g``-style ``solve(R, g)``; the check fails when ``max(min(|solve(R, g)|, |g|))``
    exceeds 0.002. Parameters on the boundary (a variance at 0) are left out.
    """
    theta = opt.theta
    diag = np.isfinite(lower_theta)

    def report(message: str, category) -> None:
        opt.messages.append(message)
        warn(message, category)

    if np.any(theta[diag] < SINGULAR_TOL):
        opt.singular = True
        warn("boundary (singular) fit: a random-effect standard deviation is estimated as "
             "(nearly) 0 or a correlation as +/-1. The data carry little information about "
             "that variance component; consider simplifying the random-effects structure "
             "(see glmmteach.GlmerResult.is_singular).", SingularFitWarning)
    beta = opt.beta
    if np.any(np.abs(beta) > SEPARATION_BETA):
        big = int(np.argmax(np.abs(beta)))
        report(f"a fixed effect is very large on the link scale ({beta[big]:.3g}): the "
               "response may be completely separated by a predictor (all 0 or all 1 in some "
               "cell), so that estimate and its standard error are not meaningful; check the "
               "observed proportions by cell, or drop or merge that level", SeparationWarning)
    if opt.hessian is None:
        return
    lower = np.concatenate([lower_theta, np.full(len(opt.beta), -np.inf)])
    free = ~_on_boundary(opt.phi, lower)
    H = opt.hessian[np.ix_(free, free)]
    g = opt.grad[free]
    try:
        Lc = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        ev = np.linalg.eigvalsh(H)
        if not opt.singular:
            opt.converged = False
            report(f"model failed to converge: the Hessian has {int(np.sum(ev <= 0))} "
                   "non-positive eigenvalue(s), so the optimum is not a proper minimum. Check "
                   "for complete separation or a parameter that is not identified; try "
                   "simplifying the model.", ConvergenceWarning)
        return
    scgrad = np.linalg.solve(Lc.T, g)
    crit = float(np.max(np.minimum(np.abs(scgrad), np.abs(g)))) if g.size else 0.0
    if crit > GRAD_TOL:
        opt.converged = False
        report(f"model failed to converge: max|scaled gradient| = {crit:.3g} "
               f"(tol = {GRAD_TOL}). Try centring and scaling numeric predictors, simplifying "
               "the random effects, or refitting from the current estimates.",
               ConvergenceWarning)
    ev = np.linalg.eigvalsh(H)
    if ev[0] > 0 and ev[-1] / ev[0] > 1e8:
        report("model is nearly unidentifiable: very large eigenvalue ratio of the Hessian "
               f"({ev[-1] / ev[0]:.2g}). If numeric predictors are on very different scales, "
               "centre and scale them.", ConvergenceWarning)
