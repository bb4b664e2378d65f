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

Imports ``glmmteach.model``, ``glmmteach._util`` and other ``inference`` modules; never
``diagnostics`` or ``course``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach.inference.gee import fit_gee
from glmmteach.inference.intervals import confint
from glmmteach.inference.profile import check_level, column_labels
from glmmteach.model.results import check_fitted_model

__all__ = ["odds_ratios", "cell_probabilities", "marginal_probabilities", "fit_gee",
           "random_effect_variance", "gauss_hermite_mean"]


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
    check_fitted_model(m, "m")
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
    ci = confint(m, parm=names, level=level, method=key)
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
    from glmmteach.model.formula import column_names

    out = []
    for label, rec in m.design.fixed_variables.items():
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


def _cell_rows(m, cells: pd.DataFrame, cell_of_row: np.ndarray) -> np.ndarray:
    """The fixed-effect row of each default cell (the same for every data row of the cell,
    because the cells are the combinations of the fixed part's variables)."""
    first = np.array([np.flatnonzero(cell_of_row == c)[0] for c in range(len(cells))])
    return np.asarray(m.design.X, dtype=float)[first]


def _observed(m, cell_of_row: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    y, n = np.asarray(m.design.y), np.asarray(m.design.trials)
    succ = np.bincount(cell_of_row, weights=y * n, minlength=n_cells)
    tot = np.bincount(cell_of_row, weights=n, minlength=n_cells)
    nrows = np.bincount(cell_of_row, minlength=n_cells)
    return succ / tot, nrows


def _per_cell(values: np.ndarray, cell_of_row: np.ndarray, n_cells: int) -> np.ndarray | None:
    """The value of a per-row quantity in each cell, or None if it varies within a cell."""
    vals = np.asarray(values, dtype=float)
    lo = np.full(n_cells, np.inf)
    hi = np.full(n_cells, -np.inf)
    np.minimum.at(lo, cell_of_row, vals)
    np.maximum.at(hi, cell_of_row, vals)
    if np.any(hi - lo > 1e-10 * max(1.0, float(np.max(np.abs(vals), initial=0.0)))):
        return None
    return lo


def _columns_text(nodes) -> str:
    from glmmteach.model.formula import column_names

    cols: list[str] = []
    for node in nodes:
        cols += [c for c in column_names(node) if c not in cols]
    return ", ".join(repr(c) for c in cols)


def _cell_offsets(m, cell_of_row: np.ndarray, n_cells: int, caller: str) -> np.ndarray:
    """The offset of each default cell; a ValueError if it varies within a cell."""
    off = np.asarray(m.design.offset, dtype=float)
    per = _per_cell(off, cell_of_row, n_cells)
    if per is None:
        offsets = m.design.offset_terms
        labels = ", ".join(label for label, _ in offsets)
        raise ValueError(
            f"{caller}(m) without newdata= predicts for each cell of the design, but the "
            f"model's offset ({labels}) differs between the rows of a cell, so a cell has no "
            "single predicted probability. Pass newdata= with the cell variables and the "
            f"offset's column(s) {_columns_text(node for _, node in offsets)} set to the "
            "values to predict for")
    return per


def _cell_re_variances(m, cell_of_row: np.ndarray, n_cells: int, caller: str) -> np.ndarray:
    """Variance of the random part in each default cell; a ValueError if it varies within one.

    With a random slope on a variable that is not constant within the cells (a numeric
    covariate outside the fixed part, say), the variance ``z' Sigma z`` differs between the
    rows of a cell, and so does the population-averaged probability.
    """
    var = _re_variance_rows(m, [np.asarray(t.X, dtype=float) for t in m.design.terms])
    per = _per_cell(var, cell_of_row, n_cells)
    if per is None:
        varying = [t for t in m.design.terms
                   if _per_cell_all(np.asarray(t.X, dtype=float), cell_of_row, n_cells) is None]
        terms = ", ".join(f"({t.expr} | {t.group})" for t in varying)
        nodes = [node for t in varying for node in t.covariate_nodes]
        raise ValueError(
            f"{caller}(m) without newdata= computes for each cell of the design, but the "
            f"random-effect term(s) {terms} have covariate(s) that differ between the rows of "
            "a cell, so the random-effect variance, and with it the population-averaged "
            "probability, differs within a cell. Pass newdata= with the cell variables and "
            f"the column(s) {_columns_text(nodes)} set to the values to compute for")
    return per


def _per_cell_all(X: np.ndarray, cell_of_row: np.ndarray, n_cells: int):
    cols = [_per_cell(X[:, j], cell_of_row, n_cells) for j in range(X.shape[1])]
    return None if any(c is None for c in cols) else np.column_stack(cols)


def cell_probabilities(m, newdata: pd.DataFrame | None = None, level: float = 0.95,
                       observed: bool = True) -> pd.DataFrame:
    """Predicted probability for each cell of the design (random effects 0), with intervals.

    Parameters
    ----------
    m : GlmerResult
    newdata : DataFrame, optional
        Rows to predict for. By default, every combination of the categorical fixed-effect
        variables present in the data, in R's order (first variable varying fastest). The
        default cells need the offset (if the model has one) to be the same for all data rows
        of a cell; an offset that varies within a cell (an exposure, say) must be given in
        ``newdata``.
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

    Raises
    ------
    ValueError
        Without ``newdata``: for a numeric fixed-effect predictor (no finite set of cells), or
        an offset that differs between the rows of a cell (no single prediction per cell).
        The message says which columns ``newdata`` needs.

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
    check_fitted_model(m, "m")
    level = check_level(level)
    if newdata is None:
        cells, cell_of_row = _design_cells(m)
        X = _cell_rows(m, cells, cell_of_row)
        off = _cell_offsets(m, cell_of_row, len(cells), "cell_probabilities")
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError("newdata must be a pandas DataFrame")
        cells = newdata.reset_index(drop=True).copy()
        X = np.asarray(m.design.new_X(cells), dtype=float)
        off = np.asarray(m.design.new_offset(cells), dtype=float)
        observed = False
    eta = X @ m.beta + off
    V = m.opt.vcov_beta
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


def _re_variance_rows(m, Zs: list[np.ndarray]) -> np.ndarray:
    """Variance of ``z' b`` (all random terms) for rows with term covariates ``Zs``."""
    var = np.zeros(len(Zs[0]))
    for Z, T in zip(Zs, m.model.re.term_T(m.theta)):
        S = T @ T.T
        var += np.einsum("ij,jk,ik->i", Z, S, Z)
    return var


def random_effect_variance(m, rows_newdata: pd.DataFrame | None,
                           rep_rows: np.ndarray | None) -> np.ndarray:
    """Variance ``z' Sigma z`` of the random part ``z' b`` for the data rows ``rep_rows``, or
    for the rows of ``rows_newdata`` (used by the population-averaged predictions here and
    by :mod:`glmmteach.diagnostics.checks`)."""
    if rep_rows is not None:
        return _re_variance_rows(m, [np.asarray(t.X, dtype=float)[rep_rows]
                                     for t in m.design.terms])
    return _re_variance_newdata(m, rows_newdata)


def _re_variance_newdata(m, newdata: pd.DataFrame) -> np.ndarray:
    """Variance of the random part for the rows of ``newdata`` (grouping columns optional)."""
    nd = newdata.copy()
    for t in m.design.terms:
        for f in t.grouping_factors:
            if f not in nd.columns:
                nd[f] = "__glmmteach_new_level__"
    return _re_variance_rows(m, [np.asarray(X, dtype=float) for _, X in m.design.new_terms(nd)])


def gauss_hermite_mean(linkinv, eta: np.ndarray, sd: np.ndarray, n_nodes: int) -> np.ndarray:
    """``E[linkinv(eta + sd * Z)]`` for ``Z ~ N(0, 1)``, by ``n_nodes``-point Gauss-Hermite."""
    t, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    return (linkinv(eta[:, None] + sd[:, None] * t[None, :]) * w[None, :]).sum(axis=1)


def marginal_probabilities(m, newdata: pd.DataFrame | None = None, n_nodes: int = 64,
                           gee: bool = True) -> pd.DataFrame:
    """Population-averaged probabilities next to the typical subject's, and a GEE fit's.

    Parameters
    ----------
    m : GlmerResult
    newdata : DataFrame, optional
        Rows to compute for; by default the cells of the design (see
        :func:`cell_probabilities`). Grouping columns are not needed. The default cells need
        the offset and the covariates of the random-effect terms to be the same for all data
        rows of a cell; a random slope on a numeric variable that is not in the fixed part,
        or an offset that varies within a cell, gives each row its own population average,
        so those columns must then be given in ``newdata``.
    n_nodes : int
        Gauss-Hermite nodes for the integral over the random effects.
    gee : bool
        Add the probabilities of a GEE fit (:func:`fit_gee`) on the same data.

    Returns
    -------
    DataFrame
        The cell's variables, ``conditional (u = 0)`` (the probability of a subject whose
        random effect is 0), ``marginal (GLMM)`` (the average probability over the population
        of subjects), ``random-effect SD`` (``sqrt(v)`` below), optionally ``GEE`` and, for
        the default cells, ``observed``.

    Raises
    ------
    ValueError
        Without ``newdata``: as :func:`cell_probabilities`, and for random-effect covariates
        that differ between the rows of a cell (the message names the columns ``newdata``
        needs). ``n_nodes`` not a whole number >= 1.

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
    check_fitted_model(m, "m")
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a whole number >= 1, not {n_nodes!r}")
    if newdata is None:
        cells, cell_of_row = _design_cells(m)
        X = _cell_rows(m, cells, cell_of_row)
        off = _cell_offsets(m, cell_of_row, len(cells), "marginal_probabilities")
        var = _cell_re_variances(m, cell_of_row, len(cells), "marginal_probabilities")
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError("newdata must be a pandas DataFrame")
        cells = newdata.reset_index(drop=True).copy()
        var = _re_variance_newdata(m, cells)
        X = np.asarray(m.design.new_X(cells), dtype=float)
        off = np.asarray(m.design.new_offset(cells), dtype=float)
    eta = X @ m.beta + off
    inv = m.family.linkinv
    out = cells.copy()
    out["conditional (u = 0)"] = inv(eta)
    out["marginal (GLMM)"] = gauss_hermite_mean(inv, eta, np.sqrt(var), int(n_nodes))
    out["random-effect SD"] = np.sqrt(var)
    if gee:
        res = fit_gee(m)
        out["GEE"] = inv(X @ np.asarray(res.params, dtype=float) + off)
    if newdata is None:
        out["observed"] = _observed(m, cell_of_row, len(cells))[0]
    return out
