"""``glmer``: formula -> design -> deviance closure -> optimizer -> fitted model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._warnings import ConvergenceWarning, warn
from .design import build_design
from .deviance import make_agq_deviance, make_laplace_deviance, make_nagq0_deviance
from .family import Binomial, as_family
from .optimize import check_convergence, fit_agq, fit_laplace, fit_nagq0
from .pirls import PIRLS_MAXIT
from .results import GlmerResult

_BLAS = None


def _single_threaded_blas():
    """A context in which BLAS uses one thread.

    The fitter works with many small matrices (one block per subject, a small Schur
    complement); OpenBLAS's threads then cost far more than they save, especially on a
    busy 2-core machine (measured: 3x slower fits on the article's data).
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")

__all__ = ["glmer"]


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
    fam = as_family(family)
    nAGQ = _check_nagq(nAGQ)
    data_name = "data"
    design = build_design(formula, data, weights=weights)
    if nAGQ > 1:
        # fail early, before any numerical work
        scalar = len(design.terms) == 1 and np.asarray(design.terms[0].X).shape[1] == 1
        if not scalar:
            raise ValueError(
                f"nAGQ={nAGQ} needs a single scalar random-effect term such as (1|id); this "
                f"model has {len(design.terms)} term(s) with "
                f"{sum(np.asarray(t.X).shape[1] for t in design.terms)} column(s). Use nAGQ=1 "
                "(Laplace) or nAGQ=0")
    return _fit_design(design, fam, nAGQ, data_name=data_name)


def _fit_design(design, fam: Binomial, nAGQ: int, start=None, compute_se: bool = True,
                data_name: str = "data") -> GlmerResult:
    """Optimize the deviance of a built design and wrap the result."""
    with _single_threaded_blas():
        return _fit_design_inner(design, fam, nAGQ, start, compute_se, data_name)


def _fit_design_inner(design, fam, nAGQ, start, compute_se, data_name) -> GlmerResult:
    if nAGQ == 0:
        dev = make_nagq0_deviance(design, fam)
        opt, state = fit_nagq0(dev)
    else:
        dev = make_laplace_deviance(design, fam)
        opt = fit_laplace(dev, start=start, compute_hessian=compute_se or nAGQ > 1)
        state = dev.state(opt.phi)
        if nAGQ > 1:
            agq = make_agq_deviance(design, fam, nAGQ)
            opt = fit_agq(agq, opt.phi)
            state = agq.state(opt.phi)
            dev = agq
    if state.iterations >= PIRLS_MAXIT:
        msg = ("PIRLS did not converge at the final estimates (conditional modes of the random "
               f"effects after {PIRLS_MAXIT} iterations); the fit may be unreliable")
        opt.messages.append(msg)
        opt.converged = False
        warn(msg, ConvergenceWarning)
    check_convergence(opt, dev.re.lower)
    return GlmerResult(design=design, family=fam, nAGQ=nAGQ, opt=opt, state=state,
                       deviance_fn=dev, data_name=data_name)
