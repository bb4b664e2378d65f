"""Optimizing a deviance closure, with lme4's convergence and singularity checks.

The Laplace (``nAGQ = 1``) fit minimizes ``f(theta, beta)`` jointly with L-BFGS-B and the
exact gradient (lower bound 0 on the diagonal elements of each ``T_k``, so a variance can be
estimated as exactly 0), then takes Newton steps with a finite-difference Hessian of the
exact gradient to polish the optimum. That Hessian is also what the standard errors come from,
as lme4's default ``use.hessian = TRUE``: ``vcov(beta) = [2 H^{-1}]_{beta, beta}``.
``control.optimizer`` may choose a derivative-free method (COBYQA, Nelder-Mead) instead; the
polishing with the exact gradient follows either way.

Adaptive quadrature (``nAGQ > 1``) starts from the Laplace optimum and its Hessian and takes
quasi-Newton steps with the exact AGQ gradient. ``nAGQ = 0`` optimizes ``theta`` alone, with
``beta`` from joint PIRLS, derivative-free as lme4 (bobyqa) does: Brent's bounded method for
one ``theta``, COBYQA for several.

Every function takes an optional :class:`~glmmteach.model.control.GlmerControl`.

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize as spo

from glmmteach._util.numdiff import central_gradient, hessian_from_gradient
from glmmteach.model.control import ConvergenceError, GlmerControl
from glmmteach.model.deviance import AGQDeviance, LaplaceDeviance, NAGQ0Deviance
from glmmteach.warnings import ConvergenceWarning, SeparationWarning, SingularFitWarning, warn

__all__ = ["OptResult", "Problem", "fit_laplace", "fit_agq", "fit_nagq0", "check_convergence",
           "convergence_problems", "report_problems", "SINGULAR_TOL"]

_DEFAULT = GlmerControl()

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
    start: str = "default"  # which start the kept optimum came from (see glmer's restarts)
    restarts: list[tuple[str, float]] = field(default_factory=list)  # (start, deviance) tried

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


def _minimize_phi(dev, x0: np.ndarray, lower: np.ndarray, control: GlmerControl):
    """One run of the final-stage optimizer from ``x0``; returns (result, phi in bounds)."""
    method = control.optimizer
    if method == "L-BFGS-B":
        r = spo.minimize(dev.value_and_grad, x0, jac=True, method="L-BFGS-B",
                         bounds=_bounds(lower),
                         options={"maxiter": control.maxiter, "ftol": control.ftol,
                                  "gtol": control.gtol, "maxcor": 20})
    elif method == "COBYQA":
        r = spo.minimize(dev, x0, method="COBYQA", bounds=_scipy_bounds(lower),
                         options={"initial_tr_radius": control.rhobeg,
                                  "final_tr_radius": control.rhoend,
                                  "maxfev": control.maxfev, "maxiter": control.maxfev})
    else:  # Nelder-Mead
        r = spo.minimize(dev, x0, method="Nelder-Mead", bounds=_bounds(lower),
                         options={"maxfev": control.maxfev, "maxiter": control.maxfev,
                                  "xatol": control.rhoend, "fatol": control.ftol,
                                  "adaptive": len(x0) > 4})
    return r, np.where(np.isfinite(lower), np.maximum(r.x, lower), r.x)


def _scipy_bounds(lower: np.ndarray) -> spo.Bounds:
    return spo.Bounds(np.where(np.isfinite(lower), lower, -np.inf), np.full(len(lower), np.inf))


def fit_laplace(dev: LaplaceDeviance, start: np.ndarray | None = None,
                compute_hessian: bool = True, control: GlmerControl | None = None
                ) -> OptResult:
    """Minimize the Laplace deviance over ``(theta, beta)``.

    Parameters
    ----------
    dev : LaplaceDeviance
    start : ndarray, optional
        Starting ``(theta, beta)``; defaults to ``dev.start()`` (identity ``T``, GLM ``beta``).
    compute_hessian : bool
        Compute the Hessian and standard errors (skip for quick refits that need only the
        estimates).
    control : GlmerControl, optional
        Optimizer choice, limits and tolerances (:func:`glmmteach.glmer_control`).
    """
    control = _DEFAULT if control is None else control
    phi0 = dev.start() if start is None else np.asarray(start, dtype=float).copy()
    lower = dev.lower
    res, phi = _minimize_phi(dev, phi0, lower, control)
    phi = _escape_zero_variance(dev, phi, lower,
                                lambda x: _minimize_phi(dev, x, lower, control)[1])
    f, g = dev.value_and_grad(phi)
    H = None
    msgs: list[str] = []
    if compute_hessian:
        H = hessian_from_gradient(dev.grad, phi)
        phi, f, g = _newton_polish(dev, phi, f, g, H, lower)
        V, vmsgs = _vcov_beta(H, dev.n_theta)
        msgs += vmsgs
    else:
        V = np.full((dev.p, dev.p), np.nan)
    out = OptResult(phi=phi, n_theta=dev.n_theta, fun=f, grad=g, hessian=H, vcov_beta=V,
                    evaluations=dev.evaluations, iterations=int(getattr(res, "nit", 0)),
                    method=control.optimizer, messages=msgs)
    if not res.success and "ABNORMAL" not in str(res.message):
        out.messages.append(f"optimizer ({control.optimizer}): {res.message}")
    return out


def fit_agq(dev: AGQDeviance, start: np.ndarray, hessian: np.ndarray | None = None,
            control: GlmerControl | None = None) -> OptResult:
    """Minimize the adaptive Gauss-Hermite deviance, starting from the Laplace optimum.

    The AGQ optimum is near the Laplace one and the two deviances have similar curvature, so
    quasi-Newton steps that start from ``hessian`` (the Laplace Hessian at ``start``, or else
    central differences of the exact AGQ gradient there) converge in a few evaluations
    (see :func:`_quasi_newton`); L-BFGS-B with the exact gradient (see
    :class:`~glmmteach.deviance.AGQDeviance`) takes over if they do not. The Hessian from
    central differences of the gradient at the optimum then polishes it and gives the
    standard errors.
    """
    control = _DEFAULT if control is None else control
    lower = dev.lower
    phi = np.asarray(start, dtype=float).copy()
    msgs: list[str] = []
    ok, nit = False, 0
    if control.optimizer == "L-BFGS-B":
        H0 = hessian_from_gradient(dev.grad, phi) if hessian is None else hessian
        phi, f, g, ok, nit = _quasi_newton(dev, phi, H0, lower, maxit=min(50, control.maxiter))
        method = "quasi-Newton (Hessian start)"
    if not ok:
        res, phi = _minimize_phi(dev, phi, lower, control)
        f, g = dev.value_and_grad(phi)
        nit += int(getattr(res, "nit", 0))
        method = control.optimizer
        if not res.success and "ABNORMAL" not in str(res.message):
            msgs.append(f"optimizer ({method}): {res.message}")
    if not control.calc_derivs:
        return OptResult(phi=phi, n_theta=dev.n_theta, fun=f, grad=g, hessian=None,
                         vcov_beta=np.full((dev.p, dev.p), np.nan),
                         evaluations=dev.evaluations, iterations=nit, method=method,
                         messages=msgs)
    H = hessian_from_gradient(dev.grad, phi)
    phi, f, g = _newton_polish(dev, phi, f, g, H, lower)
    V, vmsgs = _vcov_beta(H, dev.n_theta)
    return OptResult(phi=phi, n_theta=dev.n_theta, fun=f, grad=g, hessian=H, vcov_beta=V,
                     evaluations=dev.evaluations, iterations=nit, method=method,
                     messages=msgs + vmsgs)


def _quasi_newton(dev, phi, H, lower, maxit: int = 50, dec_tol: float = 1e-10):
    """Quasi-Newton steps ``-H^{-1} g`` from a good starting ``H``, with backtracking.

    ``H`` gets a BFGS update after every step. Parameters on their lower bound with a
    gradient pushing outwards stay there. Converged when the Newton decrement
    ``g' H^{-1} g`` falls below ``dec_tol`` (deviance units). Returns
    ``(phi, f, g, converged, iterations)``.
    """
    f, g = dev.value_and_grad(phi)
    for it in range(maxit):
        free = ~(_on_boundary(phi, lower) & (g > 0))
        step = np.zeros_like(phi)
        try:
            step[free] = np.linalg.solve(H[np.ix_(free, free)], -g[free])
        except np.linalg.LinAlgError:
            return phi, f, g, False, it
        dec = -float(g @ step)
        if not dec >= 0:  # H is not positive definite (or NaN)
            return phi, f, g, False, it
        if dec < dec_tol:
            return phi, f, g, True, it
        t = 1.0
        for _ in range(30):
            cand = np.maximum(phi + t * step, lower)
            f_new, g_new = dev.value_and_grad(cand)
            if f_new <= f - 1e-4 * t * dec:
                break
            t *= 0.5
        else:
            return phi, f, g, False, it
        sv, yv = cand - phi, g_new - g
        sy = float(sv @ yv)
        if sy > 1e-12 * float(np.linalg.norm(sv) * np.linalg.norm(yv)):
            Hs = H @ sv
            H = H + np.outer(yv, yv) / sy - np.outer(Hs, Hs) / float(sv @ Hs)
        phi, f, g = cand, f_new, g_new
    return phi, f, g, False, maxit


def _newton_polish(dev, phi, f, g, H, lower, steps: int = 3):
    """Newton steps on the free parameters with a fixed Hessian, while they lower ``f``."""
    for _ in range(steps):
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
        if not f_new <= f + 1e-10:
            break
        phi, f, g = cand, f_new, g_new
    return phi, f, g


def _minimize_theta(fun, theta0: np.ndarray, lower: np.ndarray,
                    control: GlmerControl | None = None):
    """Derivative-free minimization of a function of ``theta`` under ``theta >= lower``.

    ``control.theta_optimizer``: ``"auto"`` uses Brent's bounded method for one parameter
    and COBYQA for several. Brent runs on ``[0, b]``, ``b`` widened while the minimum sits
    at its upper end, and then looks at ``theta = 0`` itself. COBYQA is Powell's
    derivative-free trust-region method with quadratic models (scipy's successor of the
    BOBYQA lme4 uses), here with the lower bounds. Returns ``(theta, evaluations, method)``.
    """
    control = _DEFAULT if control is None else control
    theta0 = np.asarray(theta0, dtype=float)
    method = control.theta_optimizer
    if method == "auto":
        method = "bounded" if theta0.size == 1 else "COBYQA"
    if method == "bounded" and theta0.size != 1:
        raise ValueError(f"control: theta_optimizer='bounded' needs one covariance parameter; "
                         f"this model has {theta0.size}. Use 'auto' or 'COBYQA'")
    if method == "bounded":
        lo = float(lower[0]) if np.isfinite(lower[0]) else -10.0 * max(1.0, abs(theta0[0]))
        hi = max(4.0 * abs(float(theta0[0])), 4.0)
        nfev = 0
        for _ in range(8):
            r = spo.minimize_scalar(lambda t: fun(np.array([t])), bounds=(lo, hi),
                                    method="bounded",
                                    options={"xatol": control.rhoend,
                                             "maxiter": control.maxfev})
            nfev += int(r.nfev)
            if r.x < hi - 1e-3 * (hi - lo):
                break
            lo, hi = 0.5 * hi, 4.0 * hi
        t, ft = float(r.x), float(r.fun)
        if np.isfinite(lower[0]) and t - lower[0] < 1e-3:  # the minimum may sit on the bound
            f0 = fun(np.array([float(lower[0])]))
            nfev += 1
            if f0 <= ft:
                t = float(lower[0])
        return np.array([t]), nfev, "bounded Brent (theta)"
    if method == "COBYQA":
        r = spo.minimize(fun, theta0, method="COBYQA", bounds=_scipy_bounds(lower),
                         options={"initial_tr_radius": control.rhobeg,
                                  "final_tr_radius": control.rhoend,
                                  "maxfev": control.maxfev, "maxiter": control.maxfev})
    else:
        r = spo.minimize(fun, theta0, method="Nelder-Mead", bounds=_bounds(lower),
                         options={"maxfev": control.maxfev, "xatol": control.rhoend,
                                  "fatol": control.ftol,
                                  "initial_simplex": _simplex(theta0, control.rhobeg)})
    x = np.where(np.isfinite(lower), np.maximum(r.x, lower), r.x)
    return x, int(r.nfev), f"{method} (theta)"


def _simplex(x0: np.ndarray, step: float) -> np.ndarray:
    sim = np.tile(x0, (len(x0) + 1, 1))
    sim[1:] += step * np.eye(len(x0))
    return sim


def fit_nagq0(dev: NAGQ0Deviance, control: GlmerControl | None = None,
              start: np.ndarray | None = None) -> tuple[OptResult, object]:
    """Minimize the ``nAGQ = 0`` deviance over ``theta``; ``beta`` comes from joint PIRLS.

    ``theta`` alone is optimized derivative-free, as lme4 does with bobyqa (see
    :func:`_minimize_theta`); ``start`` is a starting ``theta`` (default: lme4's, identity
    ``T``).
    """
    control = _DEFAULT if control is None else control
    theta0 = dev.re.theta_start() if start is None else np.asarray(start, dtype=float)
    lower = dev.re.lower
    fun = dev.theta_objective
    theta, nit, method = _minimize_theta(fun, theta0, lower, control)
    theta = _escape_zero_variance(fun, theta, lower,
                                  lambda x: _minimize_theta(fun, x, lower, control)[0])
    g = central_gradient(fun, theta)
    st, beta, S = dev.joint_state(theta)  # after the gradient: the state at the optimum
    V = np.linalg.inv(S)
    phi = np.concatenate([theta, beta])
    out = OptResult(phi=phi, n_theta=dev.n_theta, fun=st.laplace,
                    grad=np.concatenate([g, np.zeros(len(beta))]), hessian=None,
                    vcov_beta=0.5 * (V + V.T), evaluations=dev.evaluations,
                    iterations=nit, method=method)
    return out, st


@dataclass(frozen=True)
class Problem:
    """One finding of the convergence checks: which check, the message, the warning class."""

    check: str  # "singular", "separation", "hessian", "gradient", "unidentifiable"
    message: str
    category: type


def convergence_problems(opt: OptResult, lower_theta: np.ndarray,
                         grad_tol: float = GRAD_TOL) -> list[Problem]:
    """lme4-style checks at the optimum (singular fit, separation, scaled gradient, Hessian).

    Pure: nothing is recorded or emitted (see :func:`report_problems`).

    Notes
    -----
    As lme4's ``checkConv``: with ``H = R'R`` (Cholesky) the scaled gradient is
    ``solve(R, g)``-style ``R^{-T} g``; the check fails when ``max(min(|R^{-T} g|, |g|))``
    exceeds ``grad_tol`` (0.002). Parameters on the boundary (a variance at 0) are left out.
    """
    out: list[Problem] = []
    theta = opt.theta
    diag = np.isfinite(lower_theta)
    singular = bool(np.any(theta[diag] < SINGULAR_TOL))
    if singular:
        out.append(Problem(
            "singular",
            "boundary (singular) fit: a random-effect standard deviation is estimated as "
            "(nearly) 0 or a correlation as +/-1. The data carry little information about "
            "that variance component; consider simplifying the random-effects structure "
            "(see glmmteach.GlmerResult.is_singular).", SingularFitWarning))
    beta = opt.beta
    if np.any(np.abs(beta) > SEPARATION_BETA):
        big = int(np.argmax(np.abs(beta)))
        out.append(Problem(
            "separation",
            f"a fixed effect is very large on the link scale ({beta[big]:.3g}): the "
            "response may be completely separated by a predictor (all 0 or all 1 in some "
            "cell), so that estimate and its standard error are not meaningful; check the "
            "observed proportions by cell, or drop or merge that level", SeparationWarning))
    if opt.hessian is None:
        return out
    lower = np.concatenate([lower_theta, np.full(len(opt.beta), -np.inf)])
    free = ~_on_boundary(opt.phi, lower)
    H = opt.hessian[np.ix_(free, free)]
    g = opt.grad[free]
    try:
        Lc = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        ev = np.linalg.eigvalsh(H)
        if not singular:
            out.append(Problem(
                "hessian",
                f"model failed to converge: the Hessian has {int(np.sum(ev <= 0))} "
                "non-positive eigenvalue(s), so the optimum is not a proper minimum. Check "
                "for complete separation or a parameter that is not identified; try "
                "simplifying the model.", ConvergenceWarning))
        return out
    scgrad = np.linalg.solve(Lc.T, g)
    crit = float(np.max(np.minimum(np.abs(scgrad), np.abs(g)))) if g.size else 0.0
    if crit > grad_tol:
        out.append(Problem(
            "gradient",
            f"model failed to converge: max|scaled gradient| = {crit:.3g} "
            f"(tol = {grad_tol:g}). Try centring and scaling numeric predictors, simplifying "
            "the random effects, or refitting from the current estimates.",
            ConvergenceWarning))
    ev = np.linalg.eigvalsh(H)
    if ev[0] > 0 and ev[-1] / ev[0] > 1e8:
        out.append(Problem(
            "unidentifiable",
            "model is nearly unidentifiable: very large eigenvalue ratio of the Hessian "
            f"({ev[-1] / ev[0]:.2g}). If numeric predictors are on very different scales, "
            "centre and scale them.", ConvergenceWarning))
    return out


# which control field governs each check
_ACTION_OF = {"singular": "check_conv_singular", "gradient": "check_conv_grad",
              "hessian": "check_conv_hess", "unidentifiable": "check_conv_hess"}


def report_problems(opt: OptResult, problems: list[Problem],
                    control: GlmerControl | None = None) -> None:
    """Record the problems in ``opt`` (the summary prints them) and warn, or raise.

    The singular-fit finding sets ``opt.singular`` and is a warning only (as lme4's message,
    not a summary note); a failed gradient or Hessian check sets ``opt.converged = False``.
    The action for each check comes from ``control`` (``"warning"``, ``"ignore"`` or
    ``"stop"``, which raises :class:`~glmmteach.model.control.ConvergenceError`); the
    separation check always warns.
    """
    control = _DEFAULT if control is None else control
    for p in problems:
        if p.check == "singular":
            opt.singular = True
        elif p.check in ("gradient", "hessian"):
            opt.converged = False
        action = getattr(control, _ACTION_OF[p.check]) if p.check in _ACTION_OF else "warning"
        if action == "stop":
            raise ConvergenceError(p.message)
        if p.check != "singular":
            opt.messages.append(p.message)
        if action == "warning":
            warn(p.message, p.category)


def check_convergence(opt: OptResult, lower_theta: np.ndarray,
                      control: GlmerControl | None = None) -> None:
    """lme4-style checks: singular fit, scaled gradient, Hessian; record and warn.

    :func:`convergence_problems` followed by :func:`report_problems`.
    """
    control = _DEFAULT if control is None else control
    report_problems(opt, convergence_problems(opt, lower_theta, control.grad_tol), control)
