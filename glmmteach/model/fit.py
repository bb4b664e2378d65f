"""``glmer`` and the model object: formula -> design -> deviance closure -> optimizer -> result.

:class:`GlmerModel` holds what defines a model bound to data (the design, the family, nAGQ and
the random-effects structure); it makes deviance closures and fits. :func:`glmer` builds one
and fits it. The result keeps its model (``result.model``), so refits, profiles and
simulations ask the model rather than reading the result's internals.

Imports the other ``glmmteach.model`` stages and ``glmmteach._util``; nothing above ``model``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from glmmteach._util.runtime import single_threaded_blas
from glmmteach.model.design import build_design
from glmmteach.model.deviance import make_agq_deviance, make_laplace_deviance, make_nagq0_deviance
from glmmteach.model.family import Binomial, as_family
from glmmteach.model.optimize import check_convergence, fit_agq, fit_laplace, fit_nagq0
from glmmteach.model.pirls import PIRLS_MAXIT
from glmmteach.model.results import GlmerResult
from glmmteach.model.reterms import REStructure
from glmmteach.warnings import ConvergenceWarning, warn

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
          weights=None) -> GlmerResult:
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
        Logit (default), probit or cloglog link.
    nAGQ : int, default 1
        1: Laplace approximation. > 1: adaptive Gauss-Hermite quadrature with that many
        points (only for a single scalar random-effect term, as lme4). 0: faster, less
        exact: ``beta`` is estimated inside PIRLS together with the random effects.
    weights : array-like or str, optional
        Numbers of trials when the response is a proportion (a column name or values).

    Returns
    -------
    GlmerResult

    Notes
    -----
    The model is ``y_i ~ Binomial(n_i, mu_i)``, ``g(mu_i) = x_i' beta + z_i' b``,
    ``b = Lambda(theta) u``, ``u ~ N(0, I)``. The likelihood integrates ``u`` out; the
    Laplace approximation replaces the integrand by a Gaussian at the conditional modes
    (see :class:`glmmteach.deviance.LaplaceDeviance`), giving the same objective as lme4
    (binomial coefficients included, so ``loglik``, ``aic`` and ``bic`` match lme4's).
    Standard errors come from the Hessian of the objective in ``(theta, beta)``, as lme4's
    default.

    Examples
    --------
    >>> from glmmteach import glmer, datasets
    >>> m = glmer("y ~ trt * sex + (1|id)", datasets.vegetables())
    >>> round(m.loglik, 2)
    -2061.22
    """
    model = GlmerModel.from_formula(formula, data, family=family, nAGQ=nAGQ, weights=weights)
    return model.fit()


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

    Attributes
    ----------
    design, family, nAGQ, data_name
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

    def __init__(self, design, family: Binomial, nAGQ: int = 1, data_name: str = "data") -> None:
        self.design = design
        self.family = family
        self.nAGQ = _check_nagq(nAGQ)
        self.data_name = data_name
        self.re = REStructure(design.terms)

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, family="binomial", nAGQ: int = 1,
                     weights=None) -> GlmerModel:
        """Check the arguments, build the design and return the (unfitted) model."""
        fam = as_family(family)
        nAGQ = _check_nagq(nAGQ)
        design = build_design(formula, data, weights=weights)
        if nAGQ > 1:
            # fail early, before any numerical work
            scalar = len(design.terms) == 1 and np.asarray(design.terms[0].X).shape[1] == 1
            if not scalar:
                raise ValueError(
                    f"nAGQ={nAGQ} needs a single scalar random-effect term such as (1|id); "
                    f"this model has {len(design.terms)} term(s) with "
                    f"{sum(np.asarray(t.X).shape[1] for t in design.terms)} column(s). Use "
                    "nAGQ=1 (Laplace) or nAGQ=0")
        return cls(design, fam, nAGQ)

    # ------------------------------------------------------------------ objectives
    def laplace_deviance(self):
        """A fresh Laplace deviance closure in ``phi = (theta, beta)``."""
        return make_laplace_deviance(self.design, self.family, self.re)

    def deviance(self):
        """A fresh closure of the objective this model's fit minimizes.

        Laplace for ``nAGQ = 1``, adaptive Gauss-Hermite for ``nAGQ > 1`` (both in
        ``phi = (theta, beta)``), the joint-mode deviance in ``theta`` for ``nAGQ = 0``.
        """
        if self.nAGQ == 0:
            return make_nagq0_deviance(self.design, self.family, self.re)
        if self.nAGQ > 1:
            return make_agq_deviance(self.design, self.family, self.nAGQ, self.re)
        return self.laplace_deviance()

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

    def _fit(self, start, compute_se: bool) -> GlmerResult:
        design, fam, nAGQ = self.design, self.family, self.nAGQ
        if nAGQ == 0:
            dev = make_nagq0_deviance(design, fam, self.re)
            opt, state = fit_nagq0(dev)
        else:
            dev = self.laplace_deviance()
            opt = fit_laplace(dev, start=start, compute_hessian=compute_se or nAGQ > 1)
            state = dev.state(opt.phi)
            if nAGQ > 1:
                agq = make_agq_deviance(design, fam, nAGQ, self.re)
                opt = fit_agq(agq, opt.phi)
                state = agq.state(opt.phi)
                dev = agq
        if state.iterations >= PIRLS_MAXIT:
            msg = ("PIRLS did not converge at the final estimates (conditional modes of the "
                   f"random effects after {PIRLS_MAXIT} iterations); the fit may be unreliable")
            opt.messages.append(msg)
            opt.converged = False
            warn(msg, ConvergenceWarning)
        check_convergence(opt, self.re.lower)
        return GlmerResult(model=self, opt=opt, state=state)
