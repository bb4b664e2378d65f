"""``glmer_control``: optimizer choice, limits, tolerances and convergence checks.

The counterpart of lme4's ``glmerControl``. :func:`glmer_control` validates its arguments and
returns a frozen :class:`GlmerControl`; ``glmer(..., control=...)`` also accepts a plain dict
of the same names (lme4's spellings such as ``tolPwrss`` or ``check.conv.grad`` are accepted
too, and translated).

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GlmerControl", "glmer_control", "as_control", "ConvergenceError",
           "OPTIMIZERS", "THETA_OPTIMIZERS"]

#: optimizers for the final stage (Laplace, AGQ): minimize over (theta, beta)
OPTIMIZERS = ("L-BFGS-B", "COBYQA", "Nelder-Mead")
#: optimizers for theta alone (nAGQ = 0, and the optional stage 1 of nAGQ >= 1)
THETA_OPTIMIZERS = ("auto", "bounded", "COBYQA", "Nelder-Mead")
#: lme4's optimizer names and their glmmteach counterparts
_LME4_OPTIMIZERS = {"bobyqa": "COBYQA", "Nelder_Mead": "Nelder-Mead", "nelder_mead": "Nelder-Mead",
                    "nlminbwrap": "L-BFGS-B", "nloptwrap": "COBYQA"}
_ACTIONS = ("warning", "ignore", "stop")
#: lme4's glmerControl argument names -> ours
_LME4_NAMES = {
    "tolPwrss": "tol_pwrss",
    "check.conv.grad": "check_conv_grad",
    "check.conv.singular": "check_conv_singular",
    "check.conv.hess": "check_conv_hess",
    "nAGQ0initStep": "nagq0_init_step",
    "calc.derivs": "calc_derivs",
    "optCtrl": "opt_ctrl",
}
#: keys of ``opt_ctrl`` understood for each optimizer (lme4's optCtrl names accepted too)
_OPT_CTRL = {
    "maxiter": "maxiter", "maxfun": "maxfev", "maxfev": "maxfev", "maxeval": "maxfev",
    "gtol": "gtol", "ftol": "ftol", "rhobeg": "rhobeg", "rhoend": "rhoend",
    "xtol_abs": "rhoend", "ftol_abs": "ftol",
}


class ConvergenceError(RuntimeError):
    """A convergence check failed and its action is ``"stop"`` (see :func:`glmer_control`)."""


@dataclass(frozen=True)
class GlmerControl:
    """Validated fitting options; build with :func:`glmer_control` (see there)."""

    optimizer: str = "L-BFGS-B"
    theta_optimizer: str = "auto"
    maxiter: int = 2000
    maxfev: int = 10000
    gtol: float = 1e-7
    ftol: float = 1e-12
    rhobeg: float = 0.25
    rhoend: float = 1e-7
    tol_pwrss: float | None = None
    check_conv_grad: str = "warning"
    grad_tol: float = 2e-3
    check_conv_singular: str = "warning"
    check_conv_hess: str = "warning"
    restart: bool = True
    nagq0_init_step: bool = False
    calc_derivs: bool = True


_FIELDS = tuple(f.name for f in dataclasses.fields(GlmerControl))


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _positive(name: str, value, integer: bool = False):
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and not float(value).is_integer()):
        raise TypeError(f"control: {name} must be {kind} > 0, not {value!r}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"control: {name} must be {kind} > 0 and finite, not {value!r}")
    return int(value) if integer else float(value)


def _choice(name: str, value, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"control: {name} must be one of {', '.join(map(repr, choices))}, "
                        f"not {value!r}")
    if value not in choices:
        raise ValueError(f"control: {name}={value!r} is not known; use one of "
                         f"{', '.join(map(repr, choices))}{_did_you_mean(value, choices)}")
    return value


def _optimizer_name(name: str, value, choices) -> str:
    if isinstance(value, str) and value in _LME4_OPTIMIZERS:
        value = _LME4_OPTIMIZERS[value]
    return _choice(name, value, choices)


def glmer_control(
    optimizer: str | tuple[str, str] = "L-BFGS-B",
    *,
    theta_optimizer: str = "auto",
    maxiter: int = 2000,
    maxfev: int = 10000,
    gtol: float = 1e-7,
    ftol: float = 1e-12,
    rhobeg: float = 0.25,
    rhoend: float = 1e-7,
    tol_pwrss: float | None = None,
    check_conv_grad: str | Mapping[str, Any] = "warning",
    grad_tol: float = 2e-3,
    check_conv_singular: str = "warning",
    check_conv_hess: str = "warning",
    restart: bool = True,
    nagq0_init_step: bool = False,
    calc_derivs: bool = True,
    opt_ctrl: Mapping[str, Any] | None = None,
) -> GlmerControl:
    """Options for :func:`glmmteach.glmer`, the counterpart of lme4's ``glmerControl``.

    Parameters
    ----------
    optimizer : str or (str, str), default "L-BFGS-B"
        The optimizer of the final stage, which minimizes the Laplace (``nAGQ = 1``) or
        quadrature (``nAGQ > 1``) deviance over ``(theta, beta)``: ``"L-BFGS-B"`` (bounded
        quasi-Newton with the exact gradient; the default), ``"COBYQA"`` (Powell's
        derivative-free bounded trust-region method, the successor of the BOBYQA that lme4
        uses) or ``"Nelder-Mead"``. As in lme4, a pair sets ``(theta_optimizer,
        optimizer)``. lme4's names are translated: ``"bobyqa"`` -> ``"COBYQA"``,
        ``"Nelder_Mead"`` -> ``"Nelder-Mead"``.
    theta_optimizer : str, default "auto"
        The derivative-free optimizer over ``theta`` alone used by ``nAGQ = 0`` (and by the
        optional stage 1, ``nagq0_init_step``): ``"auto"`` (Brent's bounded scalar method
        when ``theta`` has one element, else COBYQA), ``"bounded"`` (one element only),
        ``"COBYQA"`` or ``"Nelder-Mead"``.
    maxiter : int, default 2000
        Iteration limit of a gradient-based optimizer.
    maxfev : int, default 10000
        Limit on deviance evaluations of a derivative-free optimizer.
    gtol, ftol : float
        L-BFGS-B's projected-gradient and relative-reduction tolerances. Newton steps with
        the exact gradient and a finite-difference Hessian follow, so the optimum is exact
        even when L-BFGS-B stops on ``ftol``.
    rhobeg, rhoend : float
        Initial and final trust-region radius of COBYQA; ``rhoend`` is also the
        ``theta`` tolerance of the bounded scalar method.
    tol_pwrss : float, optional
        Convergence tolerance of penalized IRLS (the conditional modes), relative to the
        penalized deviance, on the Newton decrement, which is close to lme4's ``tolPwrss``
        (the relative change of the penalized weighted residual sum of squares). Default:
        effectively exact (1e-18; 1e-21 for non-canonical links). lme4's default is 1e-7,
        so ``tol_pwrss=1e-7`` imitates lme4's default fit.
    check_conv_grad : {"warning", "ignore", "stop"}, default "warning"
        What happens when the scaled gradient at the optimum exceeds ``grad_tol`` (lme4's
        ``check.conv.grad``): a :class:`~glmmteach.warnings.ConvergenceWarning`, nothing, or
        a :class:`ConvergenceError`. A dict ``{"action": ..., "tol": ...}`` sets both, as
        lme4's ``.makeCC``.
    grad_tol : float, default 2e-3
        Tolerance of the gradient check (lme4's default).
    check_conv_singular : {"warning", "ignore", "stop"}, default "warning"
        A boundary (singular) fit: a :class:`~glmmteach.warnings.SingularFitWarning` (lme4
        prints a message), nothing, or an error.
    check_conv_hess : {"warning", "ignore", "stop"}, default "warning"
        A Hessian that is not positive definite, or nearly singular.
    restart : bool, default True
        When the gradient check fails, refit from other starts (the ``nAGQ = 0`` estimates,
        the GLM estimates with small variances, a small grid of ``theta``) and keep the best
        optimum; the summary says so.
    nagq0_init_step : bool, default False
        Start the final stage from an ``nAGQ = 0`` fit (lme4's ``nAGQ0initStep``, whose
        default is True there: lme4's derivative-free stage 2 needs a good start, while
        glmmteach's exact-gradient stage rarely does).
    calc_derivs : bool, default True
        Compute the Hessian (standard errors, the gradient and Hessian checks).
    opt_ctrl : dict, optional
        lme4's ``optCtrl``: ``maxiter``, ``maxfun`` / ``maxfev`` / ``maxeval``, ``gtol``,
        ``ftol``, ``rhobeg``, ``rhoend``; a value here overrides the argument of that name.

    Returns
    -------
    GlmerControl

    Raises
    ------
    TypeError, ValueError
        For an unknown optimizer or action, or a limit or tolerance that is not a positive
        number.

    Examples
    --------
    >>> from glmmteach import glmer_control
    >>> glmer_control("COBYQA", tol_pwrss=1e-12).optimizer
    'COBYQA'
    """
    if isinstance(optimizer, (tuple, list)):
        if len(optimizer) != 2:
            raise ValueError("control: optimizer as a sequence needs two names, (stage 1 / "
                             f"theta optimizer, final optimizer); got {list(optimizer)!r}")
        theta_optimizer, optimizer = optimizer
    optimizer = _optimizer_name("optimizer", optimizer, OPTIMIZERS)
    theta_optimizer = _optimizer_name("theta_optimizer", theta_optimizer, THETA_OPTIMIZERS)
    values = {"maxiter": maxiter, "maxfev": maxfev, "gtol": gtol, "ftol": ftol,
              "rhobeg": rhobeg, "rhoend": rhoend}
    for key, value in (opt_ctrl or {}).items():
        if key not in _OPT_CTRL:
            raise ValueError(f"control: opt_ctrl key {key!r} is not known; use one of "
                             f"{', '.join(sorted(_OPT_CTRL))}{_did_you_mean(key, _OPT_CTRL)}")
        values[_OPT_CTRL[key]] = value
    for key in ("maxiter", "maxfev"):
        values[key] = _positive(key, values[key], integer=True)
    for key in ("gtol", "ftol", "rhobeg", "rhoend"):
        values[key] = _positive(key, values[key])
    if values["rhoend"] > values["rhobeg"]:
        raise ValueError(f"control: rhoend ({values['rhoend']}) must not exceed rhobeg "
                         f"({values['rhobeg']})")
    if tol_pwrss is not None:
        tol_pwrss = _positive("tol_pwrss", tol_pwrss)
        if tol_pwrss >= 1:
            raise ValueError(f"control: tol_pwrss must be < 1, not {tol_pwrss}")
    if isinstance(check_conv_grad, Mapping):
        unknown = set(check_conv_grad) - {"action", "tol"}
        if unknown:
            raise ValueError(f"control: check_conv_grad keys must be 'action' and 'tol', not "
                             f"{sorted(unknown)}")
        grad_tol = check_conv_grad.get("tol", grad_tol)
        check_conv_grad = check_conv_grad.get("action", "warning")
    check_conv_grad = _choice("check_conv_grad", check_conv_grad, _ACTIONS)
    grad_tol = _positive("grad_tol", grad_tol)
    check_conv_singular = _choice("check_conv_singular", check_conv_singular, _ACTIONS)
    check_conv_hess = _choice("check_conv_hess", check_conv_hess, _ACTIONS)
    for name, flag in (("restart", restart), ("nagq0_init_step", nagq0_init_step),
                       ("calc_derivs", calc_derivs)):
        if not isinstance(flag, bool):
            raise TypeError(f"control: {name} must be True or False, not {flag!r}")
    return GlmerControl(optimizer=optimizer, theta_optimizer=theta_optimizer,
                        tol_pwrss=tol_pwrss, check_conv_grad=check_conv_grad,
                        grad_tol=grad_tol, check_conv_singular=check_conv_singular,
                        check_conv_hess=check_conv_hess, restart=restart,
                        nagq0_init_step=nagq0_init_step, calc_derivs=calc_derivs, **values)


_ARGS = ("optimizer", "theta_optimizer", "maxiter", "maxfev", "gtol", "ftol", "rhobeg",
         "rhoend", "tol_pwrss", "check_conv_grad", "grad_tol", "check_conv_singular",
         "check_conv_hess", "restart", "nagq0_init_step", "calc_derivs", "opt_ctrl")


def as_control(control) -> GlmerControl:
    """``None`` (defaults), a :class:`GlmerControl`, or a dict of :func:`glmer_control`'s
    arguments (lme4's ``glmerControl`` names such as ``tolPwrss`` are translated)."""
    if control is None:
        return GlmerControl()
    if isinstance(control, GlmerControl):
        return control
    if not isinstance(control, Mapping):
        raise TypeError("control must be glmmteach.glmer_control(...) or a dict of its "
                        f"arguments, not {type(control).__name__}")
    kwargs = {}
    for key, value in control.items():
        if not isinstance(key, str):
            raise TypeError(f"control: keys must be strings, not {key!r}")
        name = _LME4_NAMES.get(key, key)
        if name not in _ARGS:
            known = list(_ARGS) + list(_LME4_NAMES)
            raise ValueError(f"control: {key!r} is not a known option{_did_you_mean(key, known)}; "
                             f"known options: {', '.join(_ARGS)}")
        if name in kwargs:
            raise ValueError(f"control: {key!r} given twice (also under another spelling)")
        kwargs[name] = value
    if "check_conv_singular" in kwargs and isinstance(kwargs["check_conv_singular"], Mapping):
        kwargs["check_conv_singular"] = kwargs["check_conv_singular"].get("action", "warning")
    if "check_conv_hess" in kwargs and isinstance(kwargs["check_conv_hess"], Mapping):
        kwargs["check_conv_hess"] = kwargs["check_conv_hess"].get("action", "warning")
    if kwargs.get("check_conv_singular") == "message":
        kwargs["check_conv_singular"] = "warning"  # lme4's "message": ours is a warning
    return glmer_control(**kwargs)
