"""Interpreting a fitted model: odds ratios, cell probabilities, marginal vs conditional.

Three questions a reader of a binomial GLMM asks, each answered by one function:

* :func:`odds_ratios`: how many times higher are the odds? (exponentiated coefficients with
  profile or Wald intervals);
* :func:`cell_probabilities`: what probability does the model predict for each cell of the
  design, for a typical subject (random effect 0), with an interval?
* :func:`marginal_probabilities`: what proportion of the *population* in each cell succeeds,
  averaging over subjects? (integrating over the random-effect distribution), next to the
  typical subject's probability and a GEE fit (statsmodels, exchangeable correlation), which
  estimates population-averaged probabilities directly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .profile import check_level, column_labels

__all__ = ["odds_ratios", "cell_probabilities", "marginal_probabilities", "fit_gee"]


def _check_model(m) -> None:
    from .results import GlmerResult

    if not isinstance(m, GlmerResult):
        raise TypeError(f"expected a fitted model from glmmteach.glmer, got {type(m).__name__}")


# --------------------------------------------------------------------------------------------
# Odds ratios
# --------------------------------------------------------------------------------------------


def odds_ratios(m, level: float = 0.95, method: str = "profile",
                include_intercept: bool = False) -> pd.DataFrame:
    """Odds ratios of the fixed effects with confidence intervals.

    Parameters
    ----------
    m : GlmerResult
        A model with the logit link.
    level : float
        Confidence level in (0, 1).
    method : {"profile", "wald"}
        How the interval of each coefficient is computed (on the log-odds scale, then
        exponentiated).
    include_intercept : bool
        Also list ``exp(intercept)``, the *odds* (not a ratio) in the reference cell.

    Returns
    -------
    DataFrame
        Index: fixed-effect names. Columns ``log-odds`` (the coefficient), ``odds ratio``
        (its exponential) and the interval limits of the odds ratio, named as R's
        (``"2.5 %"``, ``"97.5 %"``).

    Raises
    ------
    ValueError
        For a link other than logit (exponentiated probit coefficients are not odds
        ratios), an unknown method or a level outside (0, 1).

    Notes
    -----
    With the logit link, ``log(p / (1 - p)) = x' beta + z' b``: changing a predictor by one
    unit (or switching a factor from its reference level) adds ``beta_k`` to the log-odds, so
    it multiplies the odds by ``exp(beta_k)`` for every subject (conditional on its random
    effect). Because ``exp`` is monotone, the interval of the odds ratio is the exponential
    of the interval of ``beta_k`` (profile intervals are invariant under such a
    transformation; Wald intervals become asymmetric). Odds ratios are relative: an odds
    ratio of 9 can mean a probability rising from 0.001 to 0.009 (see
    :func:`cell_probabilities` for absolute probabilities).
    """
    _check_model(m)
    if m.family.link != "logit":
        raise ValueError(
            f"odds ratios need the logit link; this model uses {m.family.link!r}, whose "
            "exponentiated coefficients are not odds ratios. Report the coefficients or "
            "cell_probabilities(m) instead")
    level = check_level(level)
    key = method.lower() if isinstance(method, str) else method
    if key not in ("profile", "wald"):
        raise ValueError(f"method={method!r}; use 'profile' (default) or 'wald'")
    names = [n for n in m.design.xnames if include_intercept or n != "(Intercept)"]
    if not names:
        raise ValueError("the model has no fixed effects besides the intercept")
    ci = m.confint(parm=names, level=level, method=key)
    est = m.fixef[names]
    out = pd.DataFrame({"log-odds": est, "odds ratio": np.exp(est)}, index=names)
    for c in ci.columns:
        out[c] = np.exp(ci[c])
    out.attrs.update(method=key, level=level)
    return out


# --------------------------------------------------------------------------------------------
# The cells of the design
# --------------------------------------------------------------------------------------------


def _fixed_variables(m) -> list[tuple[str, str, list[str]]]:
    """(label, kind, raw data columns) of each variable of the fixed part."""
    from .formula import column_names

    out = []
    for label, rec in m.design._fixed.variables.items():
        cols = [c for c in column_names(rec.node) if c in m.data.columns]
        out.append((label, rec.kind, cols))
    return out


def _design_cells(m) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per distinct combination of the (categorical) fixed-effect variables.

    Returns the cells (raw data columns) and, for each, the positions of its data rows.
    """
    variables = _fixed_variables(m)
    numeric = [label for label, kind, _ in variables if kind != "factor"]
    if numeric:
        raise ValueError(
            f"the fixed part has numeric predictor(s) {numeric}, so the design has no finite "
            "set of cells; pass newdata= with the predictor values to predict for")
    cols: list[str] = []
    for _, _, cs in variables:
        cols += [c for c in cs if c not in cols]
    data = m.data
    if not cols:  # intercept-only fixed part: one cell
        return pd.DataFrame(index=[0]), np.zeros(len(data), dtype=np.int64)
    keys = []
    for c in cols:
        levels = m.design.factor_levels.get(c)
        col = data[c]
        if levels is not None:
            codes = pd.Index(levels).get_indexer(col)
        else:
            codes = pd.factorize(col, sort=True)[0]
        keys.append(np.asarray(codes, dtype=np.int64))
    key = np.column_stack(keys)
    uniq, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    # R's order (aggregate, expand.grid): the first variable varies fastest
    order = np.lexsort(uniq.T)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    cells = data.iloc[first[order]][cols].reset_index(drop=True)
    return cells, rank[np.asarray(inverse).ravel()]


def _observed(m, cell_of_row: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    y, n = np.asarray(m.design.y), np.asarray(m.design.trials)
    succ = np.bincount(cell_of_row, weights=y * n, minlength=n_cells)
    tot = np.bincount(cell_of_row, weights=n, minlength=n_cells)
    nrows = np.bincount(cell_of_row, minlength=n_cells)
    return succ / tot, nrows


def cell_probabilities(m, newdata: pd.DataFrame | None = None, level: float = 0.95,
                       observed: bool = True) -> pd.DataFrame:
    """Predicted probability for each cell of the design (random effects 0), with intervals.

    Parameters
    ----------
    m : GlmerResult
    newdata : DataFrame, optional
        Rows to predict for. By default, every combination of the categorical fixed-effect
        variables present in the data, in R's order (first variable varying fastest).
    level : float
        Confidence level of the intervals.
    observed : bool
        Add the observed proportion of successes and the number of rows in each cell
        (default cells only).

    Returns
    -------
    DataFrame
        The cell's variables, then ``link`` (linear predictor), ``se link``, ``probability``
        and the interval limits (``"2.5 %"``, ``"97.5 %"``), and optionally ``observed`` and
        ``n rows``.

    Notes
    -----
    The prediction is for a subject whose random effect is 0, lme4's
    ``predict(m, newdata, re.form = NA, type = "response")``: ``p = g^{-1}(x' beta_hat)``.
    The interval is computed on the link scale, where the estimator is close to normal,
    ``x' beta_hat +/- z sqrt(x' V x)`` with ``V = vcov(beta_hat)``, and both ends are then
    transformed with ``g^{-1}``; the result stays inside (0, 1) and is asymmetric around
    ``p``. (A symmetric interval ``p +/- z SE(p)`` from the delta method can leave [0, 1].)
    This is the *conditional* probability of a typical subject, not the proportion of the
    population that succeeds; see :func:`marginal_probabilities`.
    """
    _check_model(m)
    level = check_level(level)
    if newdata is None:
        cells, cell_of_row = _design_cells(m)
        newdata_used = cells
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError("newdata must be a pandas DataFrame")
        cells = newdata.reset_index(drop=True).copy()
        newdata_used = cells
        observed = False
    if len(cells.columns):
        X = np.asarray(m.design.new_X(newdata_used), dtype=float)
        off = np.asarray(m.design.new_offset(newdata_used), dtype=float)
    else:
        X = np.ones((1, 1))
        off = np.zeros(1)
    eta = X @ m._opt.beta + off
    V = m._opt.vcov_beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, V, X))
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    lo_name, hi_name = column_labels(level)
    inv = m.family.linkinv
    out = cells.copy()
    out["link"] = eta
    out["se link"] = se
    out["probability"] = inv(eta)
    out[lo_name] = inv(eta - z * se)
    out[hi_name] = inv(eta + z * se)
    if observed and newdata is None:
        obs, nrows = _observed(m, cell_of_row, len(cells))
        out["observed"] = obs
        out["n rows"] = nrows
    out.attrs.update(level=level)
    return out


# --------------------------------------------------------------------------------------------
# Marginal (population-averaged) probabilities
# --------------------------------------------------------------------------------------------


def _re_variance(m, rows_newdata: pd.DataFrame | None, rep_rows: np.ndarray | None) -> np.ndarray:
    """Variance of ``z' b`` (all random terms) for each cell."""
    re = m._dev.re
    Ts = re.term_T(m._opt.theta)
    if rep_rows is not None:
        Zs = [np.asarray(t.X, dtype=float)[rep_rows] for t in m.design.terms]
    else:
        nd = rows_newdata.copy()
        for t in m.design.terms:
            for f in t._grouping.factors:
                if f not in nd.columns:
                    nd[f] = "__glmmteach_new_level__"
        Zs = [np.asarray(X, dtype=float) for _, X in m.design.new_terms(nd)]
    var = np.zeros(len(Zs[0]))
    for Z, T in zip(Zs, Ts):
        S = T @ T.T
        var += np.einsum("ij,jk,ik->i", Z, S, Z)
    return var


def _gh_mean(linkinv, eta: np.ndarray, sd: np.ndarray, n_nodes: int) -> np.ndarray:
    t, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    return (linkinv(eta[:, None] + sd[:, None] * t[None, :]) * w[None, :]).sum(axis=1)


def fit_gee(m):
    """Fit a GEE with exchangeable working correlation to the model's data (statsmodels).

    The same fixed-effect columns, link and observations as ``m``; clusters are the levels of
    the model's first grouping factor (the one with the most levels). Binomial counts are
    expanded to 0/1 rows (the GEE estimating equations for a binomial row are those of its
    Bernoulli trials).

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

    _check_model(m)
    d = m.design
    n = np.asarray(d.trials)
    k = np.rint(np.asarray(d.y) * n).astype(np.int64)
    n_int = np.rint(n).astype(np.int64)
    X = np.asarray(d.X, dtype=float)
    groups = np.asarray(d.terms[0].codes)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)  # statsmodels' iteration notes
        return model.fit()


def marginal_probabilities(m, newdata: pd.DataFrame | None = None, n_nodes: int = 64,
                           gee: bool = True) -> pd.DataFrame:
    """Population-averaged probabilities next to the typical subject's, and a GEE fit's.

    Parameters
    ----------
    m : GlmerResult
    newdata : DataFrame, optional
        Rows to compute for; by default the cells of the design (see
        :func:`cell_probabilities`). Grouping columns are not needed.
    n_nodes : int
        Gauss-Hermite nodes for the integral over the random effects.
    gee : bool
        Add the probabilities of a GEE fit (:func:`fit_gee`) on the same data.

    Returns
    -------
    DataFrame
        The cell's variables, ``conditional (u = 0)`` (the probability of a subject whose
        random effect is 0), ``marginal (GLMM)`` (the average probability over the population
        of subjects), optionally ``GEE`` and, for the default cells, ``observed``.

    Notes
    -----
    For a cell with fixed-effect row ``x`` and random-effect covariates ``z_k`` the
    random part ``sum_k z_k' b_k`` is normal with mean 0 and variance
    ``v = sum_k z_k' Sigma_k z_k`` (``Sigma_k = T_k T_k'``), so the population average is a
    one-dimensional integral, computed by Gauss-Hermite quadrature:

    .. math:: \\bar p(x) = \\int g^{-1}(x'\\beta + \\sqrt{v}\\, t)\\, \\phi(t)\\, dt
        \\approx \\sum_{j} \\frac{w_j}{\\sqrt{2\\pi}}\\, g^{-1}(x'\\beta + \\sqrt{v}\\, t_j).

    Because ``g^{-1}`` is S-shaped, averaging pulls probabilities towards 0.5: the marginal
    probability is closer to 0.5 than the conditional one at ``u = 0``, the more so the larger
    the random-effect SD. For the probit link the integral is exact in closed form,
    ``Phi(x' beta / sqrt(1 + v))``.
    """
    _check_model(m)
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a whole number >= 1, not {n_nodes!r}")
    if newdata is None:
        cells, cell_of_row = _design_cells(m)
        rep_rows = np.array([np.flatnonzero(cell_of_row == c)[0] for c in range(len(cells))])
        var = _re_variance(m, None, rep_rows)
        X = np.asarray(m.design.X, dtype=float)[rep_rows]
        off = np.asarray(m.design.offset, dtype=float)[rep_rows]
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError("newdata must be a pandas DataFrame")
        cells = newdata.reset_index(drop=True).copy()
        var = _re_variance(m, cells, None)
        X = np.asarray(m.design.new_X(cells), dtype=float)
        off = np.asarray(m.design.new_offset(cells), dtype=float)
    eta = X @ m._opt.beta + off
    inv = m.family.linkinv
    out = cells.copy()
    out["conditional (u = 0)"] = inv(eta)
    out["marginal (GLMM)"] = _gh_mean(inv, eta, np.sqrt(var), int(n_nodes))
    out["random-effect SD"] = np.sqrt(var)
    if gee:
        res = fit_gee(m)
        out["GEE"] = inv(X @ np.asarray(res.params, dtype=float) + off)
    if newdata is None:
        out["observed"] = _observed(m, cell_of_row, len(cells))[0]
    return out
