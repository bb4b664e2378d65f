r"""Model checking by simulation: predictive checks and scaled (quantile) residuals.

A fitted model is a recipe for making data. If the recipe is right, data made by it should
look like the data we have. This module makes that comparison in two ways.

* :func:`predictive_check` simulates ``nsim`` data sets from the fitted model, summarises each
  one as the observed data are summarised (the proportion of successes in each cell of chosen
  columns, e.g. ``trt`` x ``sex``), and returns observed and simulated summaries side by side.
* :func:`scaled_residuals` turns each observation (or each subject's total, with ``group=``)
  into a randomized probability-integral-transform (PIT) value: where the observed value falls
  within its own simulated distribution. Under the model these values are uniform on (0, 1)
  whatever the response distribution, so one set of checks fits every model
  (:func:`uniformity_test`, :func:`dispersion_test`, :func:`outlier_test`,
  :func:`group_test`, summarised by :func:`residual_tests`).

:func:`binned_residuals` gives Gelman and Hill's binned residuals for binary data. Figures are
in :mod:`glmmteach.checkplots`.

Everything here is written from the published mathematics (Dunn and Smyth 1996 for quantile
residuals; Gelman and Hill 2007, section 5.6, for binned residuals); the idea of simulating
the residuals follows Hartig's DHARMa package for R, whose code is not used.

References
----------
Dunn, P. K. and Smyth, G. K. (1996). Randomized quantile residuals. *Journal of Computational
and Graphical Statistics* 5(3), 236-244.

Gelman, A. and Hill, J. (2007). *Data Analysis Using Regression and Multilevel/Hierarchical
Models*. Cambridge University Press, section 5.6.

Imports ``glmmteach.inference``, ``glmmteach.model`` and ``glmmteach._util``; never
``course``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse, stats

from glmmteach._util import validate as _validate
from glmmteach.inference import interpret
from glmmteach.model.results import GlmerResult, check_fitted_model

__all__ = [
    "PredictiveCheck",
    "predictive_check",
    "ScaledResiduals",
    "scaled_residuals",
    "CheckResult",
    "uniformity_test",
    "dispersion_test",
    "outlier_test",
    "group_test",
    "within_group_uniformity_test",
    "residual_tests",
    "binned_residuals",
]

Seed = int | np.integer | np.random.Generator | None
Columns = str | Sequence[str]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _rng(seed) -> np.random.Generator:
    return np.random.default_rng(_validate.check_seed(seed))


def _as_columns(columns: Columns, argument: str) -> list[str]:
    if isinstance(columns, str):
        cols = [columns]
    else:
        try:
            cols = list(columns)
        except TypeError:
            raise TypeError(
                f"{argument} must be a column name or a list of column names, not "
                f"{type(columns).__name__}") from None
    if not cols:
        raise ValueError(f"{argument} must name at least one column")
    for c in cols:
        if not isinstance(c, str):
            raise TypeError(f"{argument} must hold column names (str), not {c!r}")
    return cols


def _check_columns(cols: list[str], frame: pd.DataFrame, argument: str, where: str) -> None:
    for c in cols:
        if c not in frame.columns:
            available = ", ".join(repr(x) for x in frame.columns if isinstance(x, str))
            raise ValueError(
                f"{argument}: column {c!r} is not in {where}; available columns: {available}")


def _check_no_missing(frame: pd.DataFrame, cols: list[str], argument: str,
                      unit: str = "rows") -> None:
    """Refuse grouping columns with missing values: no row may silently fall out of a group."""
    for c in cols:
        n_missing = int(frame[c].isna().sum())
        if n_missing:
            raise ValueError(
                f"{argument}: column {c!r} has {n_missing} missing value"
                f"{'s' if n_missing != 1 else ''} (of {len(frame)} {unit}), so those {unit} "
                "would belong to no group; fill them in (e.g. with a level such as "
                "'unknown') or drop those rows from the data before fitting the model")


def group_codes(frame: pd.DataFrame, cols: list[str], argument: str = "by",
                 unit: str = "rows") -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """Codes 0..G-1 of the combinations of ``cols`` present in ``frame``, in sorted order.

    Categorical columns keep their level order, other columns sort by value. Returns the codes
    (one per row), the combinations (one row per group) and their labels (levels joined by
    ".", as R's ``interaction()``).

    Raises
    ------
    ValueError
        If a column has missing values (``argument`` names the argument in the message).
    """
    _check_no_missing(frame, cols, argument, unit)
    # by position: an index level may carry the same name as a column (per-unit residuals)
    grouped = frame[cols].reset_index(drop=True).groupby(cols, observed=True, sort=True)
    codes = grouped.ngroup().to_numpy()
    keys = grouped.size().reset_index()[cols]
    labels = [".".join(str(v) for v in row) for row in keys.itertuples(index=False)]
    return codes, keys, labels


def _group_sums(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of ``values`` (shape (rows,) or (rows, k)) within each group.

    ``codes`` holds each row's group, 0..n_groups-1. Returns shape (n_groups,) or
    (n_groups, k). A sparse group-by-row indicator keeps the memory at O(rows), whatever
    the number of groups (a dense one would need n_groups x rows numbers).
    """
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    n = len(codes)
    indicator = sparse.csr_array((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))
    return np.asarray(indicator @ values)


def _counts(model: GlmerResult) -> tuple[np.ndarray, np.ndarray]:
    """Observed successes and trials per fitted row (whole numbers)."""
    trials = np.asarray(model.design.trials, dtype=float)
    successes = np.round(np.asarray(model.design.y, dtype=float) * trials)
    return successes, trials


def _simulated_counts(model: GlmerResult, nsim: int, rng: np.random.Generator) -> np.ndarray:
    """``nsim`` simulated responses as success counts, shape (rows, nsim)."""
    sims = model.simulate(nsim, seed=rng).to_numpy(dtype=float)
    trials = np.asarray(model.design.trials, dtype=float)
    return np.round(sims * trials[:, None])


# --------------------------------------------------------------------------------------------
# simulation-based predictive check
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PredictiveCheck:
    """Observed and simulated cell proportions from :func:`predictive_check`.

    Attributes
    ----------
    observed : pandas.DataFrame
        One row per cell: the ``by`` columns, ``n`` (trials in the cell) and ``proportion``
        (observed proportion of successes).
    simulated : pandas.DataFrame
        Long format, one row per simulation and cell: ``sim`` (1..nsim), the ``by`` columns
        and ``proportion``.
    by : tuple of str
        The columns that define the cells.
    nsim : int
        Number of simulated data sets.
    model_formula : str
        Formula of the checked model (used in figure titles).
    """

    observed: pd.DataFrame
    simulated: pd.DataFrame
    by: tuple[str, ...]
    nsim: int
    model_formula: str

    def summary(self) -> pd.DataFrame:
        r"""Per cell: observed proportion, the simulations' mean and 95% range, and a p-value.

        Returns
        -------
        pandas.DataFrame
            Columns: the ``by`` columns, ``observed``, ``sim_mean``, ``sim_2.5%``,
            ``sim_97.5%`` and ``p_value``.

        Notes
        -----
        The p-value is the two-sided Monte Carlo p-value of the observed proportion among the
        simulated ones, :math:`\min\{1, 2 \min(1 + \#\{s_k \ge o\}, 1 + \#\{s_k \le o\})
        / (S + 1)\}`. It is small when the observed value lies in a tail of what the model
        produces. It is a per-cell screening value, not adjusted for the number of cells.
        """
        by = list(self.by)
        n_cells = len(self.observed)
        # simulated is stored simulation by simulation, cells in the order of observed
        sim = self.simulated["proportion"].to_numpy().reshape(self.nsim, n_cells)
        rows = []
        for j in range(n_cells):
            s = sim[:, j]
            o = float(self.observed["proportion"].iloc[j])
            upper = (1 + np.sum(s >= o - 1e-12)) / (self.nsim + 1)
            lower = (1 + np.sum(s <= o + 1e-12)) / (self.nsim + 1)
            rows.append({**{c: self.observed[c].iloc[j] for c in by}, "observed": o,
                         "sim_mean": float(s.mean()),
                         "sim_2.5%": float(np.quantile(s, 0.025)),
                         "sim_97.5%": float(np.quantile(s, 0.975)),
                         "p_value": float(min(1.0, 2 * min(upper, lower)))})
        return pd.DataFrame(rows)


def predictive_check(model: GlmerResult, by: Columns = ("trt", "sex"), nsim: int = 100,
                     seed: Seed = None) -> PredictiveCheck:
    r"""Simulate from a fitted model and compare cell proportions with the observed ones.

    This is the article's closing check: ``simulate(m, nsim = 100)`` followed by
    ``aggregate(y ~ trt + sex, mean)`` on the observed data and on every simulated data set.

    Parameters
    ----------
    model : GlmerResult
        A fitted model.
    by : str or sequence of str
        Columns of ``model.data`` that define the cells (default ``("trt", "sex")``).
    nsim : int
        Number of data sets to simulate (>= 1).
    seed : int or numpy.random.Generator, optional
        Seed for :meth:`GlmerResult.simulate`.

    Returns
    -------
    PredictiveCheck
        Tidy frames ``observed`` and ``simulated`` (plot them with
        :func:`glmmteach.checkplots.plot_predictive_check`) and a :meth:`~PredictiveCheck.summary`.

    Raises
    ------
    ValueError
        If ``nsim < 1``, or a ``by`` column is not in the model's data or has missing
        values (rows without a cell would otherwise drop out unnoticed).

    Notes
    -----
    Each simulated data set draws new random effects :math:`u_j \sim N(0, \hat\sigma^2)` and
    new responses :math:`y^*_{it} \sim \mathrm{Binomial}(n_{it},
    \mathrm{logit}^{-1}(x_{it}^\top\hat\beta + u_j))`, for the same rows as the data. The
    statistic of a cell :math:`c` is its proportion of successes
    :math:`\sum_{i \in c} y_i n_i / \sum_{i \in c} n_i` (the mean of ``y`` for 0/1 data). If
    the model is right, the observed proportion looks like one more draw from the simulated
    ones; a model that leaves out an interaction puts some observed cells in the tails.
    """
    model = check_fitted_model(model)
    nsim = _validate.check_nsim(nsim)
    cols = _as_columns(by, "by")
    _check_columns(cols, model.data, "by", "the model's data")
    _check_no_missing(model.data, cols, "by")
    rng = _rng(seed)

    codes, keys, _ = group_codes(model.data, cols, "by")
    n_cells = len(keys)
    successes, trials = _counts(model)
    sims = _simulated_counts(model, nsim, rng)
    trials_cell = _group_sums(codes, trials, n_cells)
    obs = _group_sums(codes, successes, n_cells) / trials_cell
    sim_prop = _group_sums(codes, sims, n_cells) / trials_cell[:, None]  # (cells, nsim)

    observed = keys.copy()
    whole = np.all(trials_cell == np.round(trials_cell))
    observed["n"] = trials_cell.astype(np.int64) if whole else trials_cell
    observed["proportion"] = obs
    simulated = pd.concat([keys] * nsim, ignore_index=True)
    simulated.insert(0, "sim", np.repeat(np.arange(1, nsim + 1), n_cells))
    simulated["proportion"] = sim_prop.T.ravel()
    return PredictiveCheck(observed=observed, simulated=simulated, by=tuple(cols), nsim=nsim,
                           model_formula=model.formula)


# --------------------------------------------------------------------------------------------
# scaled residuals
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScaledResiduals:
    """Simulation-based scaled (randomized quantile) residuals from :func:`scaled_residuals`.

    Attributes
    ----------
    residuals : pandas.Series
        One value in (0, 1) per unit: per fitted row, or per level of ``group``. Uniform under
        the model.
    observed : ndarray, shape (units,)
        Observed successes per unit.
    simulated : ndarray, shape (units, nsim)
        Simulated successes per unit.
    predicted : ndarray, shape (units,)
        The model's population-level expected proportion of successes per unit (random
        effects set to 0), used to order the units in residual plots.
    units : pandas.DataFrame
        The units' covariates: the model's data (observation level), or, per group, the
        columns that are constant within each group.
    level : str
        ``"observation"`` or the grouping column(s), e.g. ``"id"``.
    nsim : int
        Number of simulated data sets.
    model_formula : str
        Formula of the checked model.
    """

    residuals: pd.Series
    observed: np.ndarray
    simulated: np.ndarray
    predicted: np.ndarray
    units: pd.DataFrame
    level: str
    nsim: int
    model_formula: str

    @property
    def n(self) -> int:
        """Number of units (residuals)."""
        return int(len(self.residuals))


def _randomized_pit(observed: np.ndarray, simulated: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    below = np.sum(simulated < observed[:, None], axis=1)
    ties = np.sum(simulated == observed[:, None], axis=1)
    v = rng.uniform(size=len(observed))
    return (below + v * (ties + 1)) / (simulated.shape[1] + 1)


def scaled_residuals(model: GlmerResult, nsim: int = 250, seed: Seed = None,
                     group: Columns | None = None) -> ScaledResiduals:
    r"""Randomized quantile residuals from data simulated by the fitted model.

    Parameters
    ----------
    model : GlmerResult
        A fitted model.
    nsim : int
        Number of data sets to simulate (>= 1; 250 is plenty for the tests here).
    seed : int or numpy.random.Generator, optional
        Seed for the simulations and the randomization of ties.
    group : str or sequence of str, optional
        Aggregate before computing the residuals: the successes of all rows of a group (e.g.
        a subject, ``group="id"``) are added up, in the observed and in every simulated data
        set. One 0/1 observation says little; a subject's total over 14 days says much more.

    Returns
    -------
    ScaledResiduals

    Raises
    ------
    ValueError
        If ``nsim < 1``, or a ``group`` column is not in the model's data or has missing
        values.

    Notes
    -----
    For unit :math:`i` with observed value :math:`y_i` and simulated values
    :math:`y^*_{i1}, \dots, y^*_{iS}`, let :math:`B_i = \#\{k : y^*_{ik} < y_i\}` and
    :math:`E_i = \#\{k : y^*_{ik} = y_i\}`. The residual is

    .. math::
        r_i = \frac{B_i + V_i (E_i + 1)}{S + 1}, \qquad V_i \sim U(0, 1).

    This is Dunn and Smyth's randomized quantile residual with the model's distribution
    function replaced by the simulations: :math:`r_i` lies between the empirical
    :math:`\hat F(y_i^-)` and :math:`\hat F(y_i)`, and the uniform :math:`V_i` spreads the
    ties that discrete data produce. If the observed value is exchangeable with the
    simulated ones (the model is right), its rank among the :math:`S + 1` values, with ties
    broken at random, is uniform on :math:`\{0, \dots, S\}`, and so :math:`r_i` is exactly
    :math:`U(0, 1)`, for any :math:`S`. (Estimated parameters make the residuals slightly
    too central; the tests are then a little conservative.)

    The simulations draw new random effects (unconditional simulation), so the residuals ask
    whether each unit looks like a fresh unit of its kind. Each unit's ``predicted`` value is
    the population-level expected proportion :math:`\mathrm{logit}^{-1}(x_i^\top\hat\beta)`
    (averaged over the rows of a group, weighted by trials); it does not use the unit's own
    estimated random effect, which would correlate with its residual.
    """
    model = check_fitted_model(model)
    nsim = _validate.check_nsim(nsim)
    group_cols = None if group is None else _as_columns(group, "group")
    if group_cols is not None:
        _check_columns(group_cols, model.data, "group", "the model's data")
        _check_no_missing(model.data, group_cols, "group")
    rng = _rng(seed)

    successes, trials = _counts(model)
    sims = _simulated_counts(model, nsim, rng)
    pred = np.asarray(model.predict(re_form="~0", type="response"), dtype=float)
    data = model.data
    if group_cols is None:
        observed, simulated, predicted = successes, sims, pred
        units = data.copy()
        index = data.index
        level = "observation"
    else:
        codes, keys, _ = group_codes(data, group_cols, "group")
        k = len(keys)
        observed = _group_sums(codes, successes, k)
        tot = _group_sums(codes, trials, k)
        predicted = _group_sums(codes, pred * trials, k) / tot
        simulated = _group_sums(codes, sims, k)
        index = (pd.Index(keys[group_cols[0]], name=group_cols[0]) if len(group_cols) == 1
                 else pd.MultiIndex.from_frame(keys))
        units = _constant_columns(data, codes, k, index)
        level = ":".join(group_cols)
    r = _randomized_pit(observed, simulated, rng)
    return ScaledResiduals(
        residuals=pd.Series(r, index=index, name="scaled_residual"),
        observed=np.asarray(observed, dtype=float), simulated=np.asarray(simulated, dtype=float),
        predicted=np.asarray(predicted, dtype=float), units=units, level=level, nsim=nsim,
        model_formula=model.formula)


def _constant_columns(data: pd.DataFrame, codes: np.ndarray, k: int,
                      index: pd.Index) -> pd.DataFrame:
    """Columns of ``data`` that take one value within every group, one row per group."""
    frame = data.reset_index(drop=True)
    keyed = frame.assign(_unit=codes)
    grouped = keyed.groupby("_unit", sort=True)
    keep = [c for c in frame.columns
            if (grouped[c].nunique(dropna=False) <= 1).all()]
    out = grouped[keep].first() if keep else pd.DataFrame(index=range(k))
    for c in keep:  # keep categorical level order
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            out[c] = pd.Categorical(out[c], categories=frame[c].cat.categories,
                                    ordered=frame[c].cat.ordered)
    out.index = index
    return out


# --------------------------------------------------------------------------------------------
# tests on scaled residuals
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The result of one residual test.

    Attributes
    ----------
    test : str
        What was tested, in words.
    statistic : float
        The test statistic (see each test's Notes).
    p_value : float
        Its p-value.
    detail : pandas.DataFrame or None
        Per-level results for :func:`group_test` and :func:`within_group_uniformity_test`.
    """

    test: str
    statistic: float
    p_value: float
    detail: pd.DataFrame | None = None

    def __str__(self) -> str:
        return f"{self.test}: statistic = {self.statistic:.4g}, p = {self.p_value:.3g}"


def _check_residuals(res) -> ScaledResiduals:
    if not isinstance(res, ScaledResiduals):
        raise TypeError(
            "res must be the result of glmmteach.checks.scaled_residuals(), not "
            f"{type(res).__name__}")
    return res


def uniformity_test(res: ScaledResiduals) -> CheckResult:
    r"""Kolmogorov-Smirnov test that the scaled residuals are uniform on (0, 1).

    Parameters
    ----------
    res : ScaledResiduals

    Returns
    -------
    CheckResult
        Statistic :math:`D = \sup_x |\hat F_n(x) - x|`.

    Notes
    -----
    A global test: it compares the pooled distribution of all residuals with the uniform.
    Misfits that push residuals up in some units and down in others can cancel in the pool,
    so a large p-value here does not mean the model is right.
    """
    res = _check_residuals(res)
    out = stats.kstest(res.residuals.to_numpy(), "uniform")
    return CheckResult("uniformity (Kolmogorov-Smirnov)", float(out.statistic),
                       float(out.pvalue))


def dispersion_test(res: ScaledResiduals) -> CheckResult:
    r"""Simulation-based test that the data vary as much as the model says, no more, no less.

    Parameters
    ----------
    res : ScaledResiduals

    Returns
    -------
    CheckResult
        Statistic: the observed spread divided by the average simulated spread (1 when the
        model is right; above 1 means overdispersion).

    Notes
    -----
    Pool the observed value with the :math:`S` simulated ones for each unit :math:`i`,
    :math:`z_{i0} = y_i` and :math:`z_{ik} = y^*_{ik}`, with pool mean :math:`\bar z_i` and
    variance :math:`v_i`. The spread of data set :math:`k` is

    .. math::
        T_k = \sum_i (z_{ik} - \bar z_i)^2 / v_i ,

    summed over units whose pool varies. Under the model the :math:`S + 1` data sets are
    exchangeable, so :math:`T_0` is equally likely to take any rank among the :math:`T_k`;
    the two-sided p-value is :math:`\min\{1, 2\min(1 + \#\{T_k \ge T_0\},
    1 + \#\{T_k \le T_0\})/(S + 1)\}`. For single 0/1 observations the spread is fixed by
    the means, so the test is informative on aggregated residuals (``group=``).
    """
    res = _check_residuals(res)
    z = np.column_stack([res.observed, res.simulated])
    mean = z.mean(axis=1, keepdims=True)
    var = z.var(axis=1)
    keep = var > 0
    if not keep.any():
        return CheckResult("dispersion (simulation-based)", float("nan"), 1.0)
    t = np.sum((z[keep] - mean[keep]) ** 2 / var[keep, None], axis=0)
    t_obs, t_sim = t[0], t[1:]
    s = len(t_sim)
    upper = (1 + np.sum(t_sim >= t_obs * (1 - 1e-12))) / (s + 1)
    lower = (1 + np.sum(t_sim <= t_obs * (1 + 1e-12))) / (s + 1)
    return CheckResult("dispersion (simulation-based)", float(t_obs / t_sim.mean()),
                       float(min(1.0, 2 * min(upper, lower))))


def outlier_test(res: ScaledResiduals) -> CheckResult:
    r"""Binomial test for too many observations outside the range of their simulations.

    Parameters
    ----------
    res : ScaledResiduals

    Returns
    -------
    CheckResult
        Statistic: the number of outliers (units whose observed value lies strictly below
        all or strictly above all of their simulated values).

    Notes
    -----
    An outlier's scaled residual lies within :math:`1/(S + 1)` of 0 or 1. If the observed
    value is exchangeable with the :math:`S` simulated ones, it is the strict minimum or
    maximum of the :math:`S + 1` values with probability at most :math:`2/(S + 1)` (exactly,
    without ties; ties make it rarer). The number of outliers among :math:`n` units is
    compared with :math:`\mathrm{Binomial}(n, 2/(S+1))` by an exact one-sided test for too
    many. With 0/1 data and a few hundred simulations, outliers are rare unless a unit's
    probability is tiny; aggregated residuals (``group=``) can have real ones.
    """
    res = _check_residuals(res)
    sim = res.simulated
    below = res.observed < sim.min(axis=1)
    above = res.observed > sim.max(axis=1)
    k = int(np.sum(below | above))
    p = 2.0 / (res.nsim + 1)
    out = stats.binomtest(k, res.n, p, alternative="greater")
    return CheckResult("outliers (binomial test)", float(k), float(out.pvalue))


def _grouping(res: ScaledResiduals, by: Columns) -> tuple[list[str], np.ndarray, list[str]]:
    cols = _as_columns(by, "by")
    for c in cols:
        if c not in res.units.columns:
            if res.level != "observation":
                raise ValueError(
                    f"by: column {c!r} is not available for residuals per {res.level}; use "
                    f"columns that take one value within each {res.level} (available: "
                    f"{', '.join(repr(x) for x in res.units.columns)})")
            _check_columns([c], res.units, "by", "the model's data")
    unit = "rows" if res.level == "observation" else f"per-{res.level} residuals"
    codes, _, labels = group_codes(res.units, cols, "by", unit)
    return cols, codes, labels


def group_test(res: ScaledResiduals, by: Columns) -> CheckResult:
    r"""Do the scaled residuals differ between the levels of a predictor or a grouping?

    Parameters
    ----------
    res : ScaledResiduals
    by : str or sequence of str
        Column(s) of ``res.units`` whose levels (or combinations, e.g. ``["trt", "sex"]``)
        define the groups.

    Returns
    -------
    CheckResult
        The Kruskal-Wallis statistic :math:`H` and its p-value; ``detail`` holds one row per
        level with ``n``, the median residual, and a within-level Kolmogorov-Smirnov test
        (``ks_statistic``, ``ks_p_value``).

    Raises
    ------
    ValueError
        If a ``by`` column is not available or has missing values (no residual is dropped
        silently).

    Notes
    -----
    Under the model the residuals are uniform within every level, so their distributions do
    not differ between levels. A model that misses an effect of these columns (a main
    effect, or an interaction when ``by`` combines factors) pushes the residuals up in some
    levels and down in others. The pooled uniformity test can miss this, because the shifts
    cancel; comparing levels cannot. The Kruskal-Wallis test compares the levels' rank
    distributions, :math:`H = \frac{12}{N(N+1)} \sum_g n_g \bar R_g^2 - 3(N+1)`, referred to
    :math:`\chi^2_{G-1}`.
    """
    res = _check_residuals(res)
    cols, codes, labels = _grouping(res, by)
    r = res.residuals.to_numpy()
    rows, samples = [], []
    for j, level in enumerate(labels):
        x = r[codes == j]
        samples.append(x)
        ks = stats.kstest(x, "uniform")
        rows.append({"level": level, "n": len(x), "median": float(np.median(x)),
                     "ks_statistic": float(ks.statistic), "ks_p_value": float(ks.pvalue)})
    detail = pd.DataFrame(rows)
    name = " x ".join(cols)
    if len(samples) < 2:
        return CheckResult(f"differences between levels of {name} (Kruskal-Wallis)",
                           0.0, 1.0, detail)
    kw = stats.kruskal(*samples)
    return CheckResult(f"differences between levels of {name} (Kruskal-Wallis)",
                       float(kw.statistic), float(kw.pvalue), detail)


def within_group_uniformity_test(res: ScaledResiduals, by: Columns) -> CheckResult:
    r"""Uniformity of the scaled residuals within each level of ``by``, Bonferroni-combined.

    Parameters
    ----------
    res : ScaledResiduals
    by : str or sequence of str
        Column(s) of ``res.units`` defining the levels.

    Returns
    -------
    CheckResult
        Statistic: the largest within-level Kolmogorov-Smirnov :math:`D`; p-value: the
        smallest within-level p-value times the number of levels (capped at 1). ``detail``
        is the per-level table of :func:`group_test`.

    Notes
    -----
    The Bonferroni bound :math:`\min(1, G \min_g p_g)` is a valid p-value for the hypothesis
    that the residuals are uniform in every one of the :math:`G` levels.
    """
    base = group_test(res, by)
    detail = base.detail
    g = len(detail)
    name = " x ".join(_as_columns(by, "by"))
    return CheckResult(f"uniformity within levels of {name} (KS, Bonferroni)",
                       float(detail["ks_statistic"].max()),
                       float(min(1.0, g * detail["ks_p_value"].min())), detail)


def residual_tests(res: ScaledResiduals, by: Columns | None = None) -> pd.DataFrame:
    """All residual tests in one table.

    Parameters
    ----------
    res : ScaledResiduals
    by : str or sequence of str, optional
        Also test within and between the levels of these columns (:func:`group_test`,
        :func:`within_group_uniformity_test`).

    Returns
    -------
    pandas.DataFrame
        One row per test, columns ``test``, ``statistic``, ``p_value``.
    """
    res = _check_residuals(res)
    results = [uniformity_test(res), dispersion_test(res), outlier_test(res)]
    if by is not None:
        results += [within_group_uniformity_test(res, by), group_test(res, by)]
    return pd.DataFrame([{"test": r.test, "statistic": r.statistic, "p_value": r.p_value}
                         for r in results])


# --------------------------------------------------------------------------------------------
# binned residuals
# --------------------------------------------------------------------------------------------


def _marginal_moments(model: GlmerResult, n_nodes: int = 64,
                      chunk: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    r"""Per fitted row, :math:`E[p]` and :math:`E[p^2]` over the random-effect distribution.

    :math:`p = g^{-1}(x^\top\hat\beta + z^\top b)` with :math:`z^\top b \sim N(0, v)`,
    :math:`v = \sum_k z_k^\top \hat\Sigma_k z_k`, integrated by Gauss-Hermite quadrature
    (:mod:`glmmteach.interpret`'s helpers), in chunks of rows to bound the memory.
    """
    eta = np.asarray(model.predict(re_form="~0", type="link"), dtype=float)
    sd = np.sqrt(interpret.random_effect_variance(model, None, np.arange(len(eta))))
    inv = model.family.linkinv

    def square(e: np.ndarray) -> np.ndarray:
        return inv(e) ** 2

    mean = np.empty_like(eta)
    second = np.empty_like(eta)
    for start in range(0, len(eta), chunk):
        part = slice(start, start + chunk)
        mean[part] = interpret.gauss_hermite_mean(inv, eta[part], sd[part], n_nodes)
        second[part] = interpret.gauss_hermite_mean(square, eta[part], sd[part], n_nodes)
    return mean, second


def binned_residuals(model: GlmerResult, n_bins: int | None = None,
                     conditional: bool = False) -> pd.DataFrame:
    r"""Gelman and Hill's binned residuals for binary (and binomial) data.

    Parameters
    ----------
    model : GlmerResult
        A fitted model.
    n_bins : int, optional
        Number of bins of (about) equal size; default :math:`\lfloor\sqrt{n}\rfloor` for
        :math:`n \ge 100` observations, otherwise :math:`\lfloor n / 10 \rfloor` (at least 1).
    conditional : bool
        Compare the data with the marginal (population-averaged) probabilities, integrated
        over the random-effect distribution (False, the default), or with the conditional
        fitted probabilities that include the estimated random effects (True). See Notes.

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``n`` (rows), ``fitted`` (average fitted probability),
        ``residual`` (average of observed minus fitted proportion), ``se`` and the
        approximate 95% band ``lower``, ``upper`` (:math:`\pm 2` SE), and ``outside``
        (whether the average residual leaves the band). ``attrs["fitted"]`` says which
        probabilities were used (``"marginal"`` or ``"conditional"``).

    Notes
    -----
    Single 0/1 residuals :math:`y_i - \hat p_i` take only two values for each fitted value and
    show nothing in a scatter plot. Sorting the observations by :math:`\hat p_i`, cutting them
    into bins and averaging within each bin gives residuals that are approximately normal.
    Under the model the average residual of bin :math:`b` has mean 0 and standard error

    .. math::
        \mathrm{se}_b = \frac{1}{n_b} \sqrt{\sum_{i \in b} \mathrm{Var}(y_i)}

    (ignoring correlations between the rows of a bin). About 95% of the bins should fall
    within :math:`\pm 2\,\mathrm{se}_b`; a run of bins outside, or a trend, points to a
    misfit.

    Which fitted values? A residual must compare :math:`y_i` with its expectation under the
    model. Without conditioning on the subject, that is the marginal probability

    .. math::
        \bar p_i = E[y_i] = \int g^{-1}(x_i^\top\hat\beta + \sqrt{v_i}\, t)\,\phi(t)\,dt,
        \qquad v_i = \sum_k z_{ik}^\top \hat\Sigma_k z_{ik},

    computed by Gauss-Hermite quadrature as in
    :func:`glmmteach.interpret.marginal_probabilities`. It is closer to 0.5 than the
    probability :math:`g^{-1}(x_i^\top\hat\beta)` of a subject whose random effect is 0,
    so residuals against the latter show a trend (positive at low, negative at high
    probabilities) even for a correct model, the more so the larger the random-effect SD.
    The default uses :math:`\bar p_i`, with
    :math:`\mathrm{Var}(y_i) = \bar p_i(1 - \bar p_i)/m_i + (1 - 1/m_i)\,
    \mathrm{Var}_u(p_i)` for a row of :math:`m_i` trials (exactly
    :math:`\bar p_i(1 - \bar p_i)` for 0/1 data; :math:`E[p_i^2]` also by quadrature). The
    band ignores the correlation between rows of the same subject, so it is too narrow when
    a bin holds many rows of few subjects (e.g. when the fitted values take only a few
    distinct values and the bins follow the data order).

    The conditional fitted values :math:`\hat p_i = g^{-1}(x_i^\top\hat\beta + z_i^\top
    \hat b)` (``conditional=True``, with :math:`\mathrm{Var}(y_i) = \hat p_i(1 - \hat
    p_i)/m_i`) include each subject's estimated random effect, which is shrunk towards 0.
    Subjects with low observed proportions then get fitted values that are too high and vice
    versa, so this plot shows a rising trend even for a correct model when the shrinkage is
    strong (few observations per subject, small random-effect SD).
    """
    model = check_fitted_model(model)
    n = model.nobs
    if n_bins is None:
        n_bins = int(math.isqrt(n)) if n >= 100 else max(1, n // 10)
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral):
        raise ValueError(f"n_bins must be a whole number >= 1, not {n_bins!r}")
    if not 1 <= n_bins <= n:
        raise ValueError(f"n_bins must be between 1 and the number of observations ({n}), "
                         f"not {n_bins}")
    if not isinstance(conditional, (bool, np.bool_)):
        raise TypeError(f"conditional must be True or False, not {conditional!r}")
    y = np.asarray(model.design.y, dtype=float)
    trials = np.maximum(np.asarray(model.design.trials, dtype=float), 1e-300)
    if conditional:
        p = np.asarray(model.fitted, dtype=float)
        var = p * (1 - p) / trials
    else:
        p, p2 = _marginal_moments(model)
        var_p = np.maximum(p2 - p**2, 0.0)  # Var_u(p_i), between subjects
        var = p * (1 - p) / trials + np.maximum(1 - 1 / trials, 0.0) * var_p
    order = np.argsort(p, kind="stable")
    rows = []
    for b, idx in enumerate(np.array_split(order, n_bins)):
        nb = len(idx)
        se = math.sqrt(float(np.sum(var[idx]))) / nb
        resid = float(np.mean(y[idx] - p[idx]))
        rows.append({"bin": b + 1, "n": nb, "fitted": float(np.mean(p[idx])), "residual": resid,
                     "se": se, "lower": -2 * se, "upper": 2 * se,
                     "outside": bool(abs(resid) > 2 * se)})
    out = pd.DataFrame(rows)
    out.attrs["fitted"] = "conditional" if conditional else "marginal"
    return out
