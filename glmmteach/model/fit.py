"""``glmer`` and the model object: formula -> design -> deviance closure -> optimizer -> result.

:class:`GlmerModel` holds what defines a model bound to data (the design, the family, nAGQ and
the random-effects structure); it makes deviance closures and fits. :func:`glmer` builds one
and fits it. The result keeps its model (``result.model``), so refits, profiles and
simulations ask the model rather than reading the result's internals.

Imports the other ``glmmteach.model`` stages and ``glmmteach._util``; nothing above ``model``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from glmmteach._util import validate as _validate
from glmmteach._util.runtime import single_threaded_blas
from glmmteach.model.control import GlmerControl, as_control
from glmmteach.model.design import build_design
from glmmteach.model.deviance import make_agq_deviance, make_laplace_deviance, make_nagq0_deviance
from glmmteach.model.family import Binomial, as_family
from glmmteach.model.optimize import (
    OptResult,
    convergence_problems,
    fit_agq,
    fit_laplace,
    fit_nagq0,
    report_problems,
)
from glmmteach.model.pirls import PIRLS_MAXIT, PirlsError
from glmmteach.model.results import GlmerResult
from glmmteach.model.reterms import REStructure
from glmmteach.warnings import ConvergenceWarning, GroupSeparationWarning, warn

__all__ = ["glmer", "GlmerModel"]


def _check_nagq(nAGQ) -> int:
    if isinstance(nAGQ, bool) or not isinstance(nAGQ, (int, np.integer)):
        raise ValueError(f"nAGQ must be a whole number >= 0, not {nAGQ!r}")
    if nAGQ < 0:
        raise ValueError(f"nAGQ must be >= 0, not {nAGQ}")
    if nAGQ > 100:
        raise ValueError(f"nAGQ={nAGQ} is more quadrature points than useful; use at most 100")
    return int(nAGQ)


def glmer(formula: str, data: pd.DataFrame, family="binomial", nAGQ: int = 1,
          weights=None, offset=None, start=None, control=None) -> GlmerResult:
    """Fit a binomial generalized linear mixed model by maximum likelihood.

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"y ~ trt * sex + (1|id)"``. The fixed part is a Wilkinson
        formula (treatment contrasts, first level as reference); random terms are
        ``(1|g)``, ``(1 + x|g)`` (correlated), ``(1 + x||g)`` (uncorrelated), ``(0 + x|g)``,
        crossed ``(1|a) + (1|b)`` and nested ``(1|a/b)``. The response may be 0/1, boolean,
        a two-level factor (first level = failure), ``cbind(successes, failures)``, or a
        proportion together with ``weights=`` the numbers of trials.
    data : DataFrame
    family : "binomial" or glmmteach.binomial(link=...)
        Logit (default), probit, cloglog or cauchit link.
    nAGQ : int, default 1
        1: Laplace approximation. > 1: adaptive Gauss-Hermite quadrature with that many
        points (only for a single scalar random-effect term, as lme4). 0: faster, less
        exact: ``beta`` is estimated inside PIRLS together with the random effects.
    weights : array-like or str, optional
        Numbers of trials when the response is a proportion (a column name or values).
    offset : array-like or str, optional
        A known part of the linear predictor (lme4's ``offset=``): one finite value per row
        of ``data``, or a column name. Added to any ``offset(...)`` terms in the formula, as
        lme4 does.
    start : dict or array-like, optional
        Starting values, as lme4's ``start=``: a dict with keys ``"theta"`` (the covariance
        parameters, in the order of ``m.theta``) and/or ``"fixef"`` (the fixed effects, in
        the order of ``m.fixef``, or a dict / Series by column name); a plain sequence is
        ``theta``. Missing parts start at lme4's defaults (identity relative factor) and at
        the fixed-effects-only GLM estimates. For ``nAGQ > 1`` they start the Laplace stage.
    control : dict or GlmerControl, optional
        Optimizer choice, limits, tolerances and which convergence checks warn; see
        :func:`glmmteach.glmer_control` (the counterpart of lme4's ``glmerControl``). A dict
        holds its arguments (lme4's names such as ``tolPwrss`` are accepted).

    Returns
    -------
    GlmerResult

    Raises
    ------
    ValueError, TypeError
        Before any numerical work, for bad input: besides the formula and data checks, a
        ``start`` of the wrong length or with unknown names, an ``offset`` of the wrong
        length or with non-finite values, an unknown ``control`` option (named, with a
        suggestion).
    ConvergenceError
        When a convergence check fails and ``control`` says ``"stop"`` for it.

    Notes
    -----
    The model is ``y_i ~ Binomial(n_i, mu_i)``, ``g(mu_i) = x_i' beta + z_i' b``,
    ``b = Lambda(theta) u``, ``u ~ N(0, I)``. The likelihood integrates ``u`` out; the
    Laplace approximation replaces the integrand by a Gaussian at the conditional modes
    (see :class:`glmmteach.deviance.LaplaceDeviance`), giving the same objective as lme4
    (binomial coefficients included, so ``loglik``, ``aic`` and ``bic`` match lme4's).
    Standard errors come from the Hessian of the objective in ``(theta, beta)``, as lme4's
    default.

    When the optimum fails the gradient (or Hessian) check, the fit is repeated from other
    starts -- the optimum itself, the ``nAGQ = 0`` estimates, the GLM estimates with small
    variances, and a small grid of ``theta`` -- and the lowest deviance is kept; the summary
    and ``optimizer_messages`` say so (turn off with ``control={"restart": False}``).

    Examples
    --------
    >>> from glmmteach import glmer, datasets
    >>> m = glmer("y ~ trt * sex + (1|id)", datasets.vegetables())
    >>> round(m.loglik, 2)
    -2061.22
    """
    ctrl = as_control(control)
    model = GlmerModel.from_formula(formula, data, family=family, nAGQ=nAGQ, weights=weights,
                                    offset=offset, control=ctrl)
    start_phi = model.check_start(start)
    return model.fit(start=start_phi)


class GlmerModel:
    """A binomial GLMM bound to data, ready to fit: design, family, nAGQ, random effects.

    Parameters
    ----------
    design : glmmteach.model.design.Design
        The built design (:func:`glmmteach.model.design.build_design`).
    family : glmmteach.model.family.Binomial
    nAGQ : int
        0, 1 (Laplace) or the number of adaptive Gauss-Hermite points.
    data_name : str
        The name printed in the summary's ``Data:`` line.
    control : GlmerControl, optional
        Fitting options (:func:`glmmteach.glmer_control`); defaults when omitted.

    Attributes
    ----------
    design, family, nAGQ, data_name, control
        As given.
    re : glmmteach.model.reterms.REStructure
        The random-effects structure (Z, Lambda(theta)), built once here and shared by every
        deviance closure the model makes.

    Notes
    -----
    The model maps parameters to the objective :math:`-2 \\log L(\\theta, \\beta)`
    (:meth:`deviance`); :meth:`fit` minimizes it and wraps the optimum in a
    :class:`~glmmteach.model.results.GlmerResult` that keeps this model as ``.model``.
    """

    def __init__(self, design, family: Binomial, nAGQ: int = 1, data_name: str = "data",
                 control: GlmerControl | None = None) -> None:
        self.design = design
        self.family = family
        self.nAGQ = _check_nagq(nAGQ)
        self.data_name = data_name
        self.control = as_control(control)
        self.re = REStructure(design.terms)

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, family="binomial", nAGQ: int = 1,
                     weights=None, offset=None, control=None) -> GlmerModel:
        """Check the arguments, build the design and return the (unfitted) model."""
        fam = as_family(family)
        nAGQ = _check_nagq(nAGQ)
        ctrl = as_control(control)
        with single_threaded_blas():  # a threaded QR of X in the design costs ~10 ms
            design = build_design(formula, data, weights=weights, offset=offset)
        if nAGQ > 1:
            # fail early, before any numerical work
            scalar = len(design.terms) == 1 and np.asarray(design.terms[0].X).shape[1] == 1
            if not scalar:
                raise ValueError(
                    f"nAGQ={nAGQ} needs a single scalar random-effect term such as (1|id); "
                    f"this model has {len(design.terms)} term(s) with "
                    f"{sum(np.asarray(t.X).shape[1] for t in design.terms)} column(s). Use "
                    "nAGQ=1 (Laplace) or nAGQ=0")
        return cls(design, fam, nAGQ, control=ctrl)

    # ------------------------------------------------------------------ objectives
    def _tuned(self, dev):
        if self.control.tol_pwrss is not None:
            dev.pirls_tol = self.control.tol_pwrss
        return dev

    def laplace_deviance(self):
        """A fresh Laplace deviance closure in ``phi = (theta, beta)``."""
        return self._tuned(make_laplace_deviance(self.design, self.family, self.re))

    def deviance(self):
        """A fresh closure of the objective this model's fit minimizes.

        Laplace for ``nAGQ = 1``, adaptive Gauss-Hermite for ``nAGQ > 1`` (both in
        ``phi = (theta, beta)``), the joint-mode deviance in ``theta`` for ``nAGQ = 0``.
        """
        if self.nAGQ == 0:
            return self._tuned(make_nagq0_deviance(self.design, self.family, self.re))
        if self.nAGQ > 1:
            return self._tuned(make_agq_deviance(self.design, self.family, self.nAGQ, self.re))
        return self.laplace_deviance()

    # ------------------------------------------------------------------ arguments
    def check_start(self, start) -> np.ndarray | None:
        """Validate lme4-style starting values; return the full ``phi = (theta, beta)``.

        Parameters
        ----------
        start : None, dict or array-like
            ``{"theta": ..., "fixef": ...}`` (either key may be left out), or a sequence of
            ``theta`` values (see :func:`glmer`).

        Returns
        -------
        ndarray or None
            ``None`` when ``start`` is None; otherwise ``(theta, beta)`` with lme4's default
            ``theta`` and the GLM ``beta`` filling the parts not given.

        Raises
        ------
        ValueError, TypeError
            Unknown keys, wrong lengths, unknown fixed-effect names, non-finite values, or
            a negative value where ``theta`` holds a standard-deviation factor.
        """
        if start is None:
            return None
        re, xnames = self.re, list(self.design.xnames)
        if isinstance(start, Mapping):
            unknown = [k for k in start if k not in ("theta", "fixef")]
            if unknown:
                k = unknown[0]
                close = difflib.get_close_matches(str(k), ["theta", "fixef"], n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"start: unknown key {k!r}{hint}; use 'theta' and/or 'fixef', "
                                 "as lme4's start=list(theta = ..., fixef = ...)")
            theta, fixef = start.get("theta"), start.get("fixef")
        elif isinstance(start, str):
            raise TypeError("start must be a dict {'theta': ..., 'fixef': ...} or a sequence "
                            f"of theta values, not the string {start!r}")
        else:
            theta, fixef = start, None
        th = re.theta_start()
        if theta is not None:
            th = _numbers(theta, "start['theta']")
            if th.size != re.n_theta:
                raise ValueError(
                    f"start['theta'] has {th.size} value(s) but this model has {re.n_theta} "
                    "covariance parameter(s) (the lower triangle of each term's relative "
                    "factor, column by column, in the order of m.theta)")
            neg = np.flatnonzero(np.isfinite(re.lower) & (th < re.lower))
            if neg.size:
                raise ValueError(
                    f"start['theta'][{int(neg[0])}] = {th[neg[0]]:g} is negative, but that "
                    "element is a standard-deviation factor (a diagonal element of the "
                    "relative factor), which must be >= 0")
        beta = None
        if fixef is not None:
            if isinstance(fixef, (Mapping, pd.Series)):
                items = dict(fixef.items())
                unknown = [k for k in items if k not in xnames]
                if unknown:
                    close = difflib.get_close_matches(str(unknown[0]), xnames, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"start['fixef']: {unknown[0]!r} is not a fixed-effect "
                                     f"column{hint}; the columns are {xnames}")
                missing = [k for k in xnames if k not in items]
                if missing:
                    raise ValueError(f"start['fixef'] lacks {missing}; give every column of "
                                     f"{xnames}")
                beta = _numbers([items[k] for k in xnames], "start['fixef']")
            else:
                beta = _numbers(fixef, "start['fixef']")
                if beta.size != len(xnames):
                    raise ValueError(
                        f"start['fixef'] has {beta.size} value(s) but the model has "
                        f"{len(xnames)} fixed effects: {xnames}")
        if beta is None:
            beta = self.laplace_deviance().start()[re.n_theta:]
        return np.concatenate([th, beta])

    # ------------------------------------------------------------------ fitting
    def with_response(self, y) -> GlmerModel:
        """The same model for a new response (proportions, one per fitted row)."""
        y = np.asarray(y, dtype=float).ravel()
        n_rows = len(self.design.y)
        if y.shape != (n_rows,):
            raise ValueError(
                f"new_response has {y.size} values; the model was fitted to {n_rows} rows")
        if not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
            raise ValueError("new_response must hold proportions in [0, 1] (0/1 for binary data)")
        k = y * np.asarray(self.design.trials)
        if np.any(np.abs(k - np.round(k)) > 1e-8):
            raise ValueError("new_response times the number of trials must be whole numbers")
        new = GlmerModel.__new__(GlmerModel)
        new.design = dataclasses.replace(self.design, y=y)
        new.family, new.nAGQ, new.data_name, new.re = (self.family, self.nAGQ,
                                                       self.data_name, self.re)
        new.control = self.control
        return new

    def fit(self, y=None, start=None, compute_se: bool = True) -> GlmerResult:
        """Fit the model (to a new response ``y`` if given) and return the result.

        Parameters
        ----------
        y : array-like, optional
            A new response (proportions of successes, one per fitted row); the design is
            reused.
        start : array-like, optional
            Starting ``phi = (theta, beta)`` for the Laplace stage.
        compute_se : bool
            Compute the Hessian and standard errors (skip for speed in simulation studies).
        """
        if y is not None:
            return self.with_response(y).fit(start=start, compute_se=compute_se)
        with single_threaded_blas():
            return self._fit(start, compute_se)

    def _stage(self, start, compute_se: bool, nagq0=None):
        """One optimization: the final stage (Laplace, then AGQ for ``nAGQ > 1``).

        Returns ``(opt, state, deviance closure)``.
        """
        design, fam, nAGQ, ctrl = self.design, self.family, self.nAGQ, self.control
        if nAGQ == 0:
            dev = self.deviance()
            if start is not None:
                dev.set_start(beta=start[self.re.n_theta:])
            opt, state = fit_nagq0(dev, ctrl,
                                   start=None if start is None else start[:self.re.n_theta])
            return opt, state, dev
        dev = self.laplace_deviance()
        if start is None and ctrl.nagq0_init_step:
            start = nagq0.phi if nagq0 is not None else self._nagq0_fit().phi
        want_h = (compute_se and ctrl.calc_derivs) or nAGQ > 1
        opt = fit_laplace(dev, start=start, compute_hessian=want_h, control=ctrl)
        state = dev.state(opt.phi)
        if nAGQ > 1:
            agq = self._tuned(make_agq_deviance(design, fam, nAGQ, self.re))
            opt = fit_agq(agq, opt.phi, hessian=opt.hessian, control=ctrl)
            state = agq.state(opt.phi)
            dev = agq
        return opt, state, dev

    def _nagq0_fit(self) -> OptResult:
        dev = self.deviance() if self.nAGQ == 0 else self._tuned(
            make_nagq0_deviance(self.design, self.family, self.re))
        return fit_nagq0(dev, self.control)[0]

    def _restart_starts(self, first: OptResult):
        """Other starts after a failed check: (name, phi or a callable giving phi)."""
        re = self.re
        glm = self.laplace_deviance().start()
        beta_glm = glm[re.n_theta:]
        diag = np.isfinite(re.lower)
        out = [("the first optimum", first.phi.copy()),
               ("the nAGQ = 0 fit", lambda: self._nagq0_fit().phi)]
        for scale, name in ((0.1, "GLM, small variances"), (0.5, "theta grid x 0.5"),
                            (2.0, "theta grid x 2")):
            out.append((name, np.concatenate([np.where(diag, scale, 0.0), beta_glm])))
        return out

    def _fit(self, start, compute_se: bool) -> GlmerResult:
        ctrl = self.control
        opt, state, dev = self._stage(start, compute_se)
        lower = self.re.lower
        problems = convergence_problems(opt, lower, ctrl.grad_tol)
        failed = [p for p in problems if p.check in ("gradient", "hessian")]
        if failed and ctrl.restart and self.nAGQ > 0 and opt.hessian is not None:
            opt, state, dev, problems = self._restart(opt, state, dev, problems, failed,
                                                      compute_se)
        if state.iterations >= PIRLS_MAXIT:
            msg = ("PIRLS did not converge at the final estimates (conditional modes of the "
                   f"random effects after {PIRLS_MAXIT} iterations); the fit may be unreliable")
            opt.messages.append(msg)
            opt.converged = False
            warn(msg, ConvergenceWarning)
        report_problems(opt, problems, ctrl)
        for msg in self._group_separation():
            opt.messages.append(msg)
            opt.converged = False
            warn(msg, GroupSeparationWarning)
        return GlmerResult(model=self, opt=opt, state=state)

    def _group_separation(self) -> list[str]:
        """Messages for grouping factors whose every cluster is all 0 or all 1 (issue 13)."""
        d = self.design
        k = np.asarray(d.y) * np.asarray(d.trials)
        f = np.asarray(d.trials) - k
        out, seen = [], set()
        for t in d.terms:
            if t.group in seen or "(Intercept)" not in t.cnms:
                continue
            seen.add(t.group)
            msg = _validate.group_separation_message(k, f, t.codes, t.levels, t.group)
            if msg:
                out.append(msg)
        return out

    def _restart(self, opt, state, dev, problems, failed, compute_se):
        """Refit from other starts; keep the lowest deviance (preferring a passing fit)."""
        ctrl, lower = self.control, self.re.lower
        best = (opt, state, dev, problems)
        tried = [("default", float(opt.fun))]
        for name, phi0 in self._restart_starts(opt):
            try:
                phi0 = phi0() if callable(phi0) else phi0
                cand = self._stage(np.asarray(phi0, dtype=float), compute_se)
            except (PirlsError, np.linalg.LinAlgError, FloatingPointError, ValueError):
                continue
            c_opt = cand[0]
            c_problems = convergence_problems(c_opt, lower, ctrl.grad_tol)
            tried.append((name, float(c_opt.fun)))
            c_ok = not any(p.check in ("gradient", "hessian") for p in c_problems)
            b_ok = not any(p.check in ("gradient", "hessian") for p in best[3])
            if (c_opt.fun < best[0].fun - 1e-6 or
                    (c_ok and not b_ok and c_opt.fun <= best[0].fun + 1e-6)):
                best = (*cand, c_problems)
                best[0].start = name
                if c_ok:
                    break
        opt, state, dev, problems = best
        opt.restarts = tried
        what = failed[0].message.split(". ")[0]
        starts = ", ".join(f"{n} ({f:.4f})" for n, f in tried[1:])
        still = any(p.check in ("gradient", "hessian") for p in problems)
        opt.messages.insert(0, (
            f"the first optimum failed a convergence check ({what}); glmmteach refitted from "
            f"{len(tried) - 1} other start(s) [deviance: {starts}] and kept the lowest "
            f"deviance, from {'the default start' if opt.start == 'default' else opt.start}"
            + (", which still fails the check" if still else "")))
        return opt, state, dev, problems


def _numbers(values, name: str) -> np.ndarray:
    """A 1-d float array of finite numbers, or a clear error naming the argument."""
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numbers, not {values!r}") from err
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers; got {arr.tolist()}")
    return arr
