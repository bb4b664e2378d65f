"""GEE: the population-averaged fit that lesson 03 and 04 set beside the GLMM.

``fit_gee(m)`` fits a generalized estimating equation (statsmodels, exchangeable working
correlation) to the data, fixed-effect columns, link and offset of a fitted GLMM, clustering
on its outermost grouping factor.

Imports ``glmmteach._util`` and statsmodels; used by :mod:`glmmteach.inference.interpret`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from glmmteach.model.results import check_fitted_model

__all__ = ["fit_gee"]


def _gee_cluster_term(m):
    """The random term whose grouping factor GEE clusters on: the outermost one.

    A factor ``B`` is nested in ``A`` when every level of ``B`` lies within one level of
    ``A``. The chosen factor is the one the most grouping factors are nested in (itself
    included), for ``(1 | a/b)`` the school ``a`` rather than the class ``b:a``; ties (crossed
    factors, or a single one) go to the first term, lme4's order (most levels first).
    """
    terms: list = []
    for t in m.design.terms:
        if all(t.group != u.group for u in terms):
            terms.append(t)

    def nested_in(inner, outer) -> bool:
        if inner.n_levels < outer.n_levels:
            return False
        pairs = np.unique(np.column_stack([inner.codes, outer.codes]), axis=0)
        return len(pairs) == len(np.unique(inner.codes))

    counts = [sum(nested_in(u, t) for u in terms) for t in terms]
    return terms[int(np.argmax(counts))]


def fit_gee(m):
    """Fit a GEE with exchangeable working correlation to the model's data (statsmodels).

    The same fixed-effect columns, link, offset and observations as ``m``. Binomial counts are
    expanded to 0/1 rows (the GEE estimating equations for a binomial row are those of its
    Bernoulli trials).

    Clusters: GEE takes one clustering factor, and the robust standard errors allow for any
    correlation within its clusters but none between them. With nested grouping factors
    (``(1 | a/b)``, ``(1 | a) + (1 | a:b)``) the clusters are the levels of the outermost
    factor (``a``, the one with the fewest levels, within which the others are nested), so
    that the correlation of all observations in an ``a`` is allowed for (the correlation
    within a ``b:a`` is part of it). With crossed factors (``(1 | subject) + (1 | item)``)
    no choice is right: the clusters are the levels of the first grouping factor (lme4's
    order: the one with the most levels) and the correlation induced by the others is
    ignored, so the robust standard errors are too small. The factor used is
    ``result.model.cluster_factor`` (a name as in lme4, e.g. ``"a"``).

    Returns
    -------
    statsmodels GEEResults

    Notes
    -----
    GEE estimates *population-averaged* coefficients: ``g(E[y | x]) = x' beta_PA``, solving
    ``sum_i D_i' V_i^{-1} (y_i - mu_i) = 0`` with a working covariance ``V_i`` (here every
    pair of observations in a cluster has the same correlation) and robust (sandwich)
    standard errors. The GLMM's coefficients are *subject-specific*; for the logit link
    ``|beta_PA|`` is smaller than ``|beta|`` by roughly the factor
    ``1 / sqrt(1 + 0.346 sigma^2)`` (Zeger, Liang & Albert 1988).
    """
    import statsmodels.api as sm

    check_fitted_model(m, "m")
    d = m.design
    n = np.asarray(d.trials)
    k = np.rint(np.asarray(d.y) * n).astype(np.int64)
    n_int = np.rint(n).astype(np.int64)
    X = np.asarray(d.X, dtype=float)
    cluster = _gee_cluster_term(m)
    groups = np.asarray(cluster.codes)
    off = np.asarray(d.offset, dtype=float)
    if np.all(n_int == 1):
        endog, exog, grp, offset = k.astype(float), X, groups, off
    else:
        rep = n_int
        endog = np.concatenate([np.r_[np.ones(ki), np.zeros(ni - ki)] for ki, ni in zip(k, n_int)])
        exog = np.repeat(X, rep, axis=0)
        grp = np.repeat(groups, rep)
        offset = np.repeat(off, rep)
    link = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit(),
            "cloglog": sm.families.links.CLogLog()}[m.family.link]
    order = np.argsort(grp, kind="stable")
    exog_df = pd.DataFrame(exog[order], columns=list(d.xnames))
    model = sm.GEE(pd.Series(endog[order], name=d.response_name), exog_df, groups=grp[order],
                   family=sm.families.Binomial(link=link),
                   cov_struct=sm.cov_struct.Exchangeable(),
                   offset=offset[order] if np.any(offset) else None)
    model.cluster_factor = cluster.group
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)  # statsmodels' iteration notes
        return model.fit()
