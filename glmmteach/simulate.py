r"""Data generators for the course's repeated-binary design.

Subjects are observed on several days; each subject belongs to one cell of a few
between-subject factors (the article's ``trt`` and ``sex``), and each observation is a 0/1
outcome. The generators come in the two flavours the lessons teach:

* :func:`simulate_probability_scale` -- the *naive* recipe that adds a normal random effect
  to the cell probability. It is easy to think about and wrong: a subject's probability can
  leave [0, 1].
* :func:`simulate_logit_scale` -- the correct recipe: add the random effect to the log-odds
  and map back with the inverse logit, so every probability lies in (0, 1).

The design itself (who is in which cell) comes from :func:`make_design`. Helpers convert the
cell probabilities of a full-factorial design into log-odds coefficients with R's treatment
contrasts and back (:func:`probs_to_coefs`, :func:`coefs_to_probs`).

Every random function takes ``seed``: an int or a :class:`numpy.random.Generator` for numpy's
generator (the default, ``rng="numpy"``), or, with ``rng="r"``, an int for a fresh
:class:`glmmteach.rcompat.RRandom` stream (R's ``set.seed``). An ``RRandom`` object passed as
``seed`` continues that stream, as consecutive R calls do. With the R stream the generators
draw exactly what the article's R code draws, in the same order, and so reproduce R's numbers.

Imports only ``glmmteach.warnings``, ``glmmteach._util`` and the other modules at the side
(``rcompat``, ``simulate``, ``datasets``); never ``model``, ``inference``, ``diagnostics`` or
``course``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Union

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach._util.validate import check_count, check_sd
from glmmteach.warnings import ImpossibleProbabilityWarning

if TYPE_CHECKING:  # pragma: no cover
    from glmmteach.rcompat import RRandom

__all__ = [
    "ARTICLE_FACTORS",
    "ARTICLE_CELL_PROBS",
    "ARTICLE_SD",
    "ARTICLE_LOGIT_COEFS",
    "logit",
    "inv_logit",
    "qlogis",
    "plogis",
    "cell_table",
    "coef_names",
    "probs_to_coefs",
    "coefs_to_probs",
    "interaction",
    "make_design",
    "simulate_probability_scale",
    "simulate_logit_scale",
    "expected_impossible_share",
]

Seed = Union[int, np.integer, np.random.Generator, "RRandom", None]
Factors = Mapping[str, Sequence[str]]
CellValues = Mapping | pd.Series

#: The article's between-subject factors; the first level of each is the reference level.
ARTICLE_FACTORS: dict[str, tuple[str, ...]] = {
    "trt": ("control", "treat"),
    "sex": ("female", "male"),
}

#: The article's cell probabilities of eating vegetables on a given day.
ARTICLE_CELL_PROBS: dict[tuple[str, str], float] = {
    ("control", "female"): 0.40,
    ("treat", "female"): 0.85,
    ("control", "male"): 0.30,
    ("treat", "male"): 0.50,
}

#: The article's standard deviation of the subject random effect (0.03, on either scale).
ARTICLE_SD: float = 0.03

#: The log-odds coefficients exactly as the article types them (7 significant digits): the
#: rounded values of ``probs_to_coefs(ARTICLE_CELL_PROBS)``. The article's logit-scale data
#: (``vegetables(include_logit=True)``) are built from these rounded numbers.
ARTICLE_LOGIT_COEFS: dict[str, float] = {
    "(Intercept)": -0.4054651,
    "trttreat": 2.140066,
    "sexmale": -0.4418328,
    "trttreat:sexmale": -1.292768,
}


# --------------------------------------------------------------------------------------------
# logit and inverse logit
# --------------------------------------------------------------------------------------------


def logit(p: float | np.ndarray | pd.Series) -> float | np.ndarray | pd.Series:
    r"""Log-odds of a probability (R's ``qlogis``).

    Parameters
    ----------
    p : float or array_like
        Probabilities in [0, 1]. Missing values (NaN) pass through.

    Returns
    -------
    float, ndarray or Series
        ``log(p / (1 - p))``, same shape (and type, for a Series) as ``p``; -inf at 0 and
        +inf at 1.

    Raises
    ------
    ValueError
        If any probability lies outside [0, 1].

    Notes
    -----
    .. math:: \operatorname{logit}(p) = \log \frac{p}{1 - p},

    the logarithm of the odds :math:`p / (1 - p)`. It maps (0, 1) onto the whole real line,
    so a linear model on this scale can never produce an impossible probability.
    """
    arr = _as_float_array(p, "p")
    bad = (arr < 0) | (arr > 1)
    if np.any(bad):
        first = arr[bad].flat[0]
        raise ValueError(
            f"p must be probabilities in [0, 1]; got {first!r} "
            f"({int(np.sum(bad))} value(s) outside [0, 1])"
        )
    with np.errstate(divide="ignore"):
        out = np.log(arr / (1.0 - arr))
    return _like(out, p)


def inv_logit(x: float | np.ndarray | pd.Series) -> float | np.ndarray | pd.Series:
    r"""Probability from log-odds: the inverse logit (R's ``plogis``).

    Parameters
    ----------
    x : float or array_like
        Log-odds, any real number; +-inf map to 1 and 0, NaN passes through.

    Returns
    -------
    float, ndarray or Series
        ``1 / (1 + exp(-x))``, same shape (and type, for a Series) as ``x``.

    Notes
    -----
    .. math:: \operatorname{logit}^{-1}(x) = \frac{1}{1 + e^{-x}} = \frac{e^x}{1 + e^x},

    the logistic function, computed as R's ``plogis`` computes it. Mathematically its values
    lie strictly inside (0, 1) for every finite ``x``; in double precision they round to 1
    above about x = 37 and to 0 below about x = -709.
    """
    arr = _as_float_array(x, "x")
    with np.errstate(over="ignore"):
        out = 1.0 / (1.0 + np.exp(-arr))
    return _like(out, x)


#: R's name for :func:`logit`.
qlogis = logit
#: R's name for :func:`inv_logit`.
plogis = inv_logit


# --------------------------------------------------------------------------------------------
# cell tables and treatment-contrast coefficients
# --------------------------------------------------------------------------------------------


def cell_table(
    values: CellValues | Sequence[float],
    factors: Factors = ARTICLE_FACTORS,
    *,
    name: str = "p",
) -> pd.Series:
    """Put one number per cell of a full-factorial design into a labelled Series.

    Parameters
    ----------
    values : mapping, Series or sequence of float
        One value per cell. A mapping is keyed by tuples of levels in the order of
        ``factors`` (a plain level for a single factor), e.g.
        ``{("control", "female"): 0.40, ...}``; a Series may carry a MultiIndex whose level
        names are the factor names; a plain sequence lists the cells in R's
        ``interaction()`` order (first factor varying fastest), as the article's
        ``c(0.40, 0.85, 0.30, 0.50)`` does.
    factors : mapping of str to sequence of str
        Factor names and their levels; the first level of each factor is the reference.
    name : str
        Name of the returned Series.

    Returns
    -------
    pandas.Series
        Float values with a MultiIndex named after the factors, in R's ``interaction()``
        order (``control.female, treat.female, control.male, treat.male`` for the article).

    Raises
    ------
    ValueError
        If a cell is missing, a key names an unknown level, or a value is not a finite
        number.
    """
    factors = _check_factors(factors)
    cells = cell_combinations(factors)
    names = list(factors)
    if isinstance(values, pd.Series):
        index = values.index
        if (
            list(index.names) != names
            and set(index.names) == set(names)
            and isinstance(index, pd.MultiIndex)
        ):
            values = values.reorder_levels(names)
        mapping = {_key(k, len(names)): v for k, v in values.items()}
    elif isinstance(values, Mapping):
        mapping = {_key(k, len(names)): v for k, v in values.items()}
    elif isinstance(values, Sequence | np.ndarray) and not isinstance(values, str):
        if len(values) != len(cells):
            raise ValueError(
                f"{name} lists {len(values)} values but the design has {len(cells)} cells "
                f"({', '.join('.'.join(c) for c in cells)}); give one value per cell"
            )
        mapping = dict(zip(cells, values, strict=True))
    else:
        raise TypeError(
            f"{name} must be a mapping from cells to numbers, a Series, or a sequence; "
            f"got {type(values).__name__}"
        )
    unknown = [k for k in mapping if k not in set(cells)]
    if unknown:
        raise ValueError(
            f"{name} has an entry for cell {unknown[0]!r}, which is not a combination of the "
            f"levels {_describe_factors(factors)}; check the spelling and the order of the "
            f"factors, and if your design uses other factors than these, pass them as "
            f"factors={{name: [levels, ...]}}"
        )
    missing = [c for c in cells if c not in mapping]
    if missing:
        which = ", ".join(f"{f}={lev!r}" for f, lev in zip(names, missing[0], strict=True))
        raise ValueError(
            f"{name} has no value for the cell {which}; give a value for every combination "
            f"of {_describe_factors(factors)}"
        )
    out = []
    for c in cells:
        v = mapping[c]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{name} for cell {'.'.join(c)} must be a finite number; got {v!r}")
        out.append(float(v))
    index = pd.MultiIndex.from_tuples(cells, names=names)
    return pd.Series(out, index=index, name=name)


def coef_names(factors: Factors = ARTICLE_FACTORS) -> list[str]:
    """Names of the saturated model's coefficients, as R names them.

    Parameters
    ----------
    factors : mapping of str to sequence of str
        Factor names and levels (first level = reference).

    Returns
    -------
    list of str
        ``["(Intercept)", "trttreat", "sexmale", "trttreat:sexmale"]`` for the article: the
        columns of ``model.matrix(~ trt * sex)`` with treatment contrasts, in R's order (main
        effects, then two-way interactions, ...; within a term the first factor varies
        fastest).
    """
    return [name for name, _ in _columns(_check_factors(factors))]


def probs_to_coefs(
    cell_probs: CellValues | Sequence[float] = ARTICLE_CELL_PROBS,
    factors: Factors = ARTICLE_FACTORS,
) -> pd.Series:
    r"""Log-odds coefficients (treatment contrasts) that reproduce given cell probabilities.

    Parameters
    ----------
    cell_probs : mapping, Series or sequence of float
        One probability per cell, strictly inside (0, 1); see :func:`cell_table` for the
        accepted forms. Defaults to the article's 0.40, 0.85, 0.30, 0.50.
    factors : mapping of str to sequence of str
        Factor names and levels; the first level of each factor is the reference.

    Returns
    -------
    pandas.Series
        The coefficients of the saturated logistic model ``~ trt * sex`` (in general
        ``~ f1 * f2 * ...``), indexed by R's names (:func:`coef_names`). For the article:
        (Intercept) -0.4054651, trttreat 2.140066, sexmale -0.4418328,
        trttreat:sexmale -1.292768.

    Raises
    ------
    ValueError
        If a probability is missing, outside (0, 1) (0 and 1 have infinite log-odds), or a
        cell names an unknown level.

    See Also
    --------
    coefs_to_probs : the inverse map.

    Notes
    -----
    With treatment contrasts and a reference level for each factor, write
    :math:`\eta_{ij} = \operatorname{logit}(p_{ij})` for the log-odds of cell (i, j), with
    i = 0 and j = 0 the reference levels. The saturated model
    :math:`\eta_{ij} = \beta_0 + \alpha_i + \gamma_j + (\alpha\gamma)_{ij}` (effects zero at
    the reference levels) is solved by differences of log-odds:

    .. math::
        \beta_0 = \eta_{00}, \quad
        \alpha_i = \eta_{i0} - \eta_{00}, \quad
        \gamma_j = \eta_{0j} - \eta_{00}, \quad
        (\alpha\gamma)_{ij} = \eta_{ij} - \eta_{i0} - \eta_{0j} + \eta_{00}.

    The main effect of treatment is a log odds ratio within the reference sex, and the
    interaction is a ratio of odds ratios on the log scale. With more factors the same
    inclusion-exclusion (Moebius inversion) applies: the coefficient of a term is the
    alternating sum of :math:`\eta` over the cells that keep a subset of the term's levels
    and put every other factor at its reference.
    """
    factors = _check_factors(factors)
    table = cell_table(cell_probs, factors, name="cell_probs")
    bad = table[(table <= 0) | (table >= 1)]
    if len(bad):
        raise ValueError(
            f"cell_probs must lie strictly between 0 and 1 to have finite log-odds; cell "
            f"{'.'.join(bad.index[0])} has {float(bad.iloc[0])!r}"
        )
    eta = {cell: float(v) for cell, v in logit(table).items()}
    names = list(factors)
    refs = {f: levels[0] for f, levels in factors.items()}
    out: dict[str, float] = {}
    for colname, setting in _columns(factors):
        # setting: {factor: non-reference level} for the factors in this term.
        total = 0.0
        term = list(setting)
        for r in range(len(term) + 1):
            for kept in itertools.combinations(term, r):
                cell = tuple(setting[f] if f in kept else refs[f] for f in names)
                total += (-1) ** (len(term) - r) * eta[cell]
        out[colname] = total
    return pd.Series(out, name="coef")


def coefs_to_probs(
    coefs: Mapping[str, float] | pd.Series | Sequence[float] = ARTICLE_LOGIT_COEFS,
    factors: Factors = ARTICLE_FACTORS,
) -> pd.Series:
    r"""Cell probabilities implied by log-odds coefficients (treatment contrasts).

    Parameters
    ----------
    coefs : mapping, Series or sequence of float
        The saturated model's coefficients keyed by R's names (:func:`coef_names`), or a
        plain sequence in that order. Defaults to the article's rounded coefficients.
    factors : mapping of str to sequence of str
        Factor names and levels; the first level of each factor is the reference.

    Returns
    -------
    pandas.Series
        One probability per cell, MultiIndex in R's ``interaction()`` order.

    Raises
    ------
    ValueError
        If a coefficient is missing, unknown, or not a finite number.

    Notes
    -----
    Each cell's log-odds is the sum of the coefficients whose indicator is 1 in that cell,
    :math:`\eta_{ij} = \beta_0 + \alpha_i + \gamma_j + (\alpha\gamma)_{ij}`, and its
    probability is :math:`p_{ij} = \operatorname{logit}^{-1}(\eta_{ij})`.
    """
    factors = _check_factors(factors)
    beta = coef_vector(coefs, factors)
    cells = cell_combinations(factors)
    names = list(factors)
    eta = np.zeros(len(cells))
    for k, (_, setting) in enumerate(_columns(factors)):
        x = np.array(
            [all(c[names.index(f)] == lev for f, lev in setting.items()) for c in cells],
            dtype=float,
        )
        eta = eta + beta[k] * x
    index = pd.MultiIndex.from_tuples(cells, names=names)
    return pd.Series(inv_logit(eta), index=index, name="p")


def interaction(frame: pd.DataFrame, columns: Sequence[str], sep: str = ".") -> pd.Categorical:
    """R's ``interaction()``: one categorical whose levels are all combinations of factors.

    Parameters
    ----------
    frame : DataFrame
        Holds the factor columns (categorical columns keep their level order; other columns
        use their sorted unique values, as R's ``factor()`` does).
    columns : sequence of str
        The factors to combine, e.g. ``["trt", "sex"]``.
    sep : str
        Separator between levels in the combined labels.

    Returns
    -------
    pandas.Categorical
        Labels such as ``"control.female"``; the categories run over all combinations with
        the first factor varying fastest (R's order: control.female, treat.female,
        control.male, treat.male).
    """
    levels = {}
    for col in columns:
        if col not in frame.columns:
            raise ValueError(f"column {col!r} is not in the data frame; columns are "
                             f"{list(frame.columns)}")
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels[col] = [str(c) for c in s.cat.categories]
        else:
            levels[col] = sorted(str(v) for v in s.dropna().unique())
    categories = [sep.join(c) for c in cell_combinations(levels)]
    labels = frame[list(columns)].astype(str).agg(sep.join, axis=1)
    return pd.Categorical(labels, categories=categories)


# --------------------------------------------------------------------------------------------
# the design and the two simulators
# --------------------------------------------------------------------------------------------


def make_design(
    n_subjects: int = 250,
    n_days: int = 14,
    factors: Factors = ARTICLE_FACTORS,
    *,
    seed: Seed = None,
    rng: Literal["numpy", "r"] = "numpy",
) -> pd.DataFrame:
    """Subjects by days, each subject assigned at random to a level of every factor.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (at least 1); ids run 1 .. n_subjects.
    n_days : int
        Observations per subject (at least 1); days run 1 .. n_days.
    factors : mapping of str to sequence of str
        Between-subject factors and their levels (first level = reference). Each subject's
        level is drawn independently and uniformly, factor by factor.
    seed : int, numpy.random.Generator, RRandom or None
        Random source; see the module docstring. ``None`` (numpy only) takes fresh entropy.
    rng : {"numpy", "r"}
        ``"r"`` draws each factor with R's ``sample(levels, size = n_subjects,
        replace = TRUE)`` on an :class:`~glmmteach.rcompat.RRandom` stream, in the order of
        ``factors``: with ``seed=1`` this is the article's ``set.seed(1)`` and its two
        ``sample`` calls.

    Returns
    -------
    pandas.DataFrame
        ``n_subjects * n_days`` rows sorted by id then day, with int columns ``id`` and
        ``day`` and one categorical column per factor (categories in the given level order).

    Raises
    ------
    ValueError
        For sizes or seeds that are not non-negative integers (sizes at least 1), or
        malformed factors.
    """
    n_subjects = check_count(n_subjects, "n_subjects")
    n_days = check_count(n_days, "n_days")
    factors = _check_factors(factors)
    source = _random_source(seed, rng)
    ids = np.repeat(np.arange(1, n_subjects + 1), n_days)
    days = np.tile(np.arange(1, n_days + 1), n_subjects)
    frame = pd.DataFrame({"id": ids.astype(np.int64), "day": days.astype(np.int64)})
    for name, levels in factors.items():
        if isinstance(source, np.random.Generator):
            codes = source.integers(0, len(levels), size=n_subjects)
            drawn = np.asarray(levels, dtype=object)[codes]
        else:
            drawn = np.asarray(source.sample(list(levels), size=n_subjects, replace=True),
                               dtype=object)
        frame[name] = pd.Categorical(drawn[ids - 1], categories=list(levels))
    return frame


def simulate_probability_scale(
    design: pd.DataFrame,
    cell_probs: CellValues | Sequence[float] = ARTICLE_CELL_PROBS,
    *,
    sd: float = ARTICLE_SD,
    factors: Factors = ARTICLE_FACTORS,
    seed: Seed = None,
    rng: Literal["numpy", "r"] = "numpy",
    on_impossible: Literal["warn", "missing", "raise"] = "warn",
) -> pd.DataFrame:
    r"""Naive simulation: a normal random effect added on the probability scale.

    This is the article's first recipe, kept because it is intuitive and because its flaw
    is instructive: a subject's probability can fall outside [0, 1].

    Parameters
    ----------
    design : DataFrame
        Rows of observations with an ``id`` column and one column per factor, e.g. from
        :func:`make_design`. One random effect is drawn per distinct id, in sorted id order
        (R's ``rnorm(n)[d$id]`` for ids 1..n); outcomes are drawn in row order.
    cell_probs : mapping, Series or sequence of float
        Probability of a 1 in each cell, each in [0, 1] (see :func:`cell_table`).
    sd : float
        Standard deviation of the subject effect on the probability scale (>= 0).
    factors : mapping of str to sequence of str
        The factors of ``cell_probs``; each must be a column of ``design``.
    seed : int, numpy.random.Generator, RRandom or None
        Random source; see the module docstring.
    rng : {"numpy", "r"}
        With ``"r"`` the draws are R's ``rnorm(n_subjects, 0, sd)`` then
        ``rbinom(nrow, 1, p)``: with ``seed=3`` and the article's design this is the
        article's data.
    on_impossible : {"warn", "missing", "raise"}
        What to do when subject probabilities fall outside [0, 1]: ``"warn"`` (default)
        sets those subjects' ``y`` to missing and emits an
        :class:`~glmmteach._warnings.ImpossibleProbabilityWarning` with the count;
        ``"missing"`` does the same without the warning (the count is still in
        ``attrs``); ``"raise"`` raises ``ValueError`` instead.

    Returns
    -------
    pandas.DataFrame
        A copy of ``design`` with columns ``u`` (the subject's random effect, probability
        scale), ``p`` (cell probability + u, kept as computed even when impossible) and
        ``y`` (0/1; ``<NA>`` for the subjects whose ``p`` is outside [0, 1], in which case
        ``y`` has the nullable ``Int64`` dtype, otherwise ``int64``).
        ``attrs["n_impossible"]`` is the number of subjects whose probability falls outside
        [0, 1] and ``attrs["impossible_ids"]`` lists their ids.

    Raises
    ------
    ValueError
        For a negative or non-finite ``sd``, cell probabilities outside [0, 1], design
        levels missing from ``cell_probs``, a bad seed, or (with ``on_impossible="raise"``)
        impossible probabilities.

    Notes
    -----
    Subject j in cell c(j) gets

    .. math::
        p_j = p_{c(j)} + u_j, \qquad u_j \sim N(0, \sigma^2), \qquad
        y_{jt} \mid p_j \sim \operatorname{Bernoulli}(p_j), \quad t = 1, \dots, T.

    Nothing keeps :math:`p_j` inside [0, 1]: it falls below 0 with probability
    :math:`\Phi(-p_{c}/\sigma)` and above 1 with probability :math:`\Phi((p_c - 1)/\sigma)`
    (see :func:`expected_impossible_share`). A Bernoulli variable with such a "probability"
    does not exist. R's ``rbinom`` returns ``NA`` (with a warning) for those draws, without
    consuming random numbers; this function does the same -- ``y`` is missing, the
    impossible ``p`` stays visible in the frame, and nothing is clipped -- so the R stream
    stays in step with R.
    """
    if on_impossible not in ("warn", "missing", "raise"):
        raise ValueError(
            f"on_impossible must be 'warn', 'missing' or 'raise'; got {on_impossible!r}"
        )
    sd = check_sd(sd)
    factors = _check_factors(factors)
    table = cell_table(cell_probs, factors, name="cell_probs")
    bad = table[(table < 0) | (table > 1)]
    if len(bad):
        raise ValueError(
            f"cell_probs must be probabilities in [0, 1]; cell {'.'.join(bad.index[0])} "
            f"has {float(bad.iloc[0])!r}"
        )
    frame, codes, n_subj = _check_design(design, factors)
    source = _random_source(seed, rng)

    cell_p = _cell_lookup(frame, table, factors)
    u_subject = _draw_normal(source, n_subj, sd)
    u = u_subject[codes]
    p = cell_p + u
    impossible = (p < 0) | (p > 1)
    impossible_ids = list(pd.unique(frame["id"][impossible]))
    n_impossible = len(impossible_ids)
    if n_impossible and on_impossible == "raise":
        raise ValueError(
            f"{n_impossible} of {n_subj} subject probabilities fall outside [0, 1] with "
            f"sd={sd!r} on the probability scale; lower sd or simulate on the logit scale "
            f"(simulate_logit_scale)"
        )
    y = np.zeros(len(frame), dtype=np.int64)
    ok = ~impossible
    y[ok] = _draw_bernoulli(source, p[ok])
    frame["u"] = u
    frame["p"] = p
    if n_impossible:
        y_col = pd.array(y, dtype="Int64")
        y_col[impossible] = pd.NA
        frame["y"] = y_col
    else:
        frame["y"] = y
    frame.attrs["n_impossible"] = n_impossible
    frame.attrs["impossible_ids"] = [_plain(i) for i in impossible_ids]
    if n_impossible and on_impossible == "warn":
        warnings.warn(
            f"{n_impossible} of {n_subj} subject probabilities fall outside [0, 1] "
            f"(sd={sd:g} on the probability scale); their y values are missing (NA), as R's "
            f"rbinom returns NA. Simulate on the logit scale (simulate_logit_scale) instead.",
            ImpossibleProbabilityWarning,
            stacklevel=2,
        )
    return frame


def simulate_logit_scale(
    design: pd.DataFrame,
    coefs: Mapping[str, float] | pd.Series | Sequence[float] = ARTICLE_LOGIT_COEFS,
    *,
    sd: float = ARTICLE_SD,
    factors: Factors = ARTICLE_FACTORS,
    seed: Seed = None,
    rng: Literal["numpy", "r"] = "numpy",
) -> pd.DataFrame:
    r"""Correct simulation: a normal random intercept on the log-odds (logit) scale.

    Parameters
    ----------
    design : DataFrame
        Rows of observations with an ``id`` column and one column per factor, e.g. from
        :func:`make_design`. One random intercept is drawn per distinct id, in sorted id
        order (R's ``rnorm(n)[d$id]`` for ids 1..n); outcomes are drawn in row order.
    coefs : mapping, Series or sequence of float
        Fixed-effect coefficients on the log-odds scale with treatment contrasts, keyed by
        R's names (:func:`coef_names`) or listed in that order; e.g. the output of
        :func:`probs_to_coefs`. Defaults to the article's rounded coefficients.
    sd : float
        Standard deviation of the random intercept on the log-odds scale (>= 0).
    factors : mapping of str to sequence of str
        The factors the coefficients refer to; each must be a column of ``design``.
    seed : int, numpy.random.Generator, RRandom or None
        Random source; see the module docstring.
    rng : {"numpy", "r"}
        With ``"r"`` the draws are R's ``rnorm(n_subjects, 0, sd)`` then
        ``rbinom(nrow, 1, p)``, as in the article's side note; pass the ``RRandom`` that
        made the probability-scale data to continue its stream as the article does.

    Returns
    -------
    pandas.DataFrame
        A copy of ``design`` with columns ``eta`` (the fixed-effect log-odds), ``u`` (the
        random intercept), ``p`` (``inv_logit(eta + u)``) and ``y`` (0/1, int64).
        ``attrs["n_impossible"]`` is 0: no probability can leave (0, 1).

    Raises
    ------
    ValueError
        For a negative or non-finite ``sd``, missing or unknown coefficients, design levels
        not among ``factors``, or a bad seed.

    Notes
    -----
    Subject j in cell c(j), observed on days t = 1, ..., T:

    .. math::
        \eta_{jt} = x_{j}^\top \beta + u_j, \qquad u_j \sim N(0, \sigma^2), \qquad
        p_{j} = \operatorname{logit}^{-1}(\eta_{jt}), \qquad
        y_{jt} \sim \operatorname{Bernoulli}(p_j).

    For the article, :math:`x_j^\top\beta = \beta_0 + \beta_1 \mathrm{treat}_j +
    \beta_2 \mathrm{male}_j + \beta_3 \mathrm{treat}_j \mathrm{male}_j`. Because the
    inverse logit maps every real number into (0, 1), no subject can get an impossible
    probability however large :math:`\sigma` is. The linear predictor is summed term by
    term in R's column order, as R evaluates the article's expression, so the R stream
    reproduces R's ``p2`` to the last bit or two.
    """
    sd = check_sd(sd)
    factors = _check_factors(factors)
    beta = coef_vector(coefs, factors)
    frame, codes, n_subj = _check_design(design, factors)
    source = _random_source(seed, rng)

    eta = np.zeros(len(frame))
    for k, (_, setting) in enumerate(_columns(factors)):
        x = np.ones(len(frame), dtype=bool)
        for f, lev in setting.items():
            x &= (frame[f] == lev).to_numpy(dtype=bool)
        eta = eta + beta[k] * x.astype(float)
    u = _draw_normal(source, n_subj, sd)[codes]
    p = inv_logit(eta + u)
    frame["eta"] = eta
    frame["u"] = u
    frame["p"] = p
    frame["y"] = _draw_bernoulli(source, p)
    frame.attrs["n_impossible"] = 0
    frame.attrs["impossible_ids"] = []
    return frame


def expected_impossible_share(
    cell_probs: CellValues | Sequence[float] = ARTICLE_CELL_PROBS,
    sd: float = ARTICLE_SD,
    factors: Factors = ARTICLE_FACTORS,
    weights: CellValues | Sequence[float] | None = None,
) -> float:
    r"""Expected share of subjects whose naive probability falls outside [0, 1].

    Parameters
    ----------
    cell_probs : mapping, Series or sequence of float
        Cell probabilities in [0, 1] (see :func:`cell_table`).
    sd : float
        Standard deviation of the probability-scale random effect (>= 0).
    factors : mapping of str to sequence of str
        Factor names and levels.
    weights : mapping, Series, sequence of float or None
        Share of subjects in each cell (normalized to sum 1); ``None`` means equal shares,
        which is what :func:`make_design` produces on average.

    Returns
    -------
    float
        The expected proportion of subjects with an impossible probability.

    Notes
    -----
    With :math:`p_j = p_c + u_j` and :math:`u_j \sim N(0, \sigma^2)`,

    .. math::
        \Pr(p_j \notin [0, 1]) = \Phi\!\left(\frac{-p_c}{\sigma}\right)
        + \Phi\!\left(\frac{p_c - 1}{\sigma}\right),

    averaged over the cells with weights :math:`w_c`. For :math:`\sigma = 0` the share is 0.
    """
    sd = check_sd(sd)
    factors = _check_factors(factors)
    table = cell_table(cell_probs, factors, name="cell_probs")
    if weights is None:
        w = np.full(len(table), 1.0 / len(table))
    else:
        w = cell_table(weights, factors, name="weights").to_numpy()
        if np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        w = w / w.sum()
    if sd == 0:
        return 0.0
    p = table.to_numpy()
    share = stats.norm.cdf(-p / sd) + stats.norm.cdf((p - 1) / sd)
    return float(np.sum(w * share))


# --------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------


def _as_float_array(x, name: str) -> np.ndarray:
    if isinstance(x, bool):
        raise TypeError(f"{name} must be numeric; got a bool")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric; got {type(x).__name__}") from err
    return arr


def _like(out: np.ndarray, template):
    if isinstance(template, pd.Series):
        return pd.Series(out, index=template.index, name=template.name)
    if np.ndim(template) == 0:
        return float(out)
    return out


def _check_factors(factors) -> dict[str, tuple[str, ...]]:
    if not isinstance(factors, Mapping) or len(factors) == 0:
        raise ValueError(
            "factors must be a non-empty mapping from factor names to their levels, e.g. "
            "{'trt': ['control', 'treat'], 'sex': ['female', 'male']}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for name, levels in factors.items():
        if not isinstance(name, str) or name in ("id", "day", "u", "p", "y", "eta"):
            raise ValueError(
                f"factors: {name!r} cannot be a factor name (use a string other than id, "
                f"day, u, p, y, eta)"
            )
        if isinstance(levels, str) or not isinstance(levels, Sequence | np.ndarray):
            raise ValueError(f"factors[{name!r}] must be a sequence of level names")
        levels = tuple(levels)
        if len(levels) < 2:
            raise ValueError(f"factors[{name!r}] needs at least two levels; got {levels!r}")
        if not all(isinstance(lev, str) for lev in levels):
            raise ValueError(f"factors[{name!r}]: levels must be strings; got {levels!r}")
        if len(set(levels)) != len(levels):
            raise ValueError(f"factors[{name!r}] has repeated levels: {levels!r}")
        out[name] = levels
    return out


def _describe_factors(factors: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{f}: {', '.join(map(repr, lv))}" for f, lv in factors.items())


def cell_combinations(factors: Mapping[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """All cells in R's interaction()/expand.grid order: the first factor varies fastest."""
    rev = [list(levels) for levels in reversed(list(factors.values()))]
    return [tuple(reversed(c)) for c in itertools.product(*rev)]


def _key(key, n_factors: int) -> tuple:
    if isinstance(key, tuple):
        return tuple(str(k) for k in key)
    if n_factors == 1:
        return (str(key),)
    return (key,)


def _columns(factors: Mapping[str, Sequence[str]]) -> list[tuple[str, dict[str, str]]]:
    """Saturated treatment-contrast columns: (R name, {factor: non-reference level})."""
    names = list(factors)
    cols: list[tuple[str, dict[str, str]]] = [("(Intercept)", {})]
    for order in range(1, len(names) + 1):
        for term in itertools.combinations(names, order):
            nonref = {f: list(factors[f][1:]) for f in term}
            for combo in cell_combinations(nonref):
                setting = dict(zip(term, combo, strict=True))
                cols.append((":".join(f"{f}{lev}" for f, lev in setting.items()), setting))
    return cols


def coef_vector(coefs, factors) -> np.ndarray:
    names = [n for n, _ in _columns(factors)]
    if isinstance(coefs, Mapping | pd.Series):
        keys = list(coefs.keys())
        unknown = [k for k in keys if k not in names]
        if unknown:
            raise ValueError(
                f"coefs has an unknown coefficient {unknown[0]!r}; expected the names "
                f"{names}; if your design uses other factors, pass them as "
                f"factors={{name: [levels, ...]}}"
            )
        missing = [n for n in names if n not in keys]
        if missing:
            raise ValueError(f"coefs has no value for {missing[0]!r}; expected the names {names}")
        values = [coefs[n] for n in names]
    elif isinstance(coefs, Sequence | np.ndarray) and not isinstance(coefs, str):
        if len(coefs) != len(names):
            raise ValueError(
                f"coefs lists {len(coefs)} values but the design has {len(names)} "
                f"coefficients {names}"
            )
        values = list(coefs)
    else:
        raise TypeError(
            f"coefs must be a mapping, Series or sequence of numbers; got {type(coefs).__name__}"
        )
    out = []
    for n, v in zip(names, values, strict=True):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"coefs[{n!r}] must be a finite number; got {v!r}")
        out.append(float(v))
    return np.array(out)


def _check_design(design, factors) -> tuple[pd.DataFrame, np.ndarray, int]:
    if not isinstance(design, pd.DataFrame):
        raise TypeError(
            f"design must be a pandas DataFrame (e.g. from make_design); got "
            f"{type(design).__name__}"
        )
    if len(design) == 0:
        raise ValueError("design has no rows")
    needed = ["id", *factors]
    absent = [c for c in needed if c not in design.columns]
    if absent:
        raise ValueError(
            f"design has no column {absent[0]!r}; it needs 'id' and one column per factor "
            f"({', '.join(factors)})"
        )
    if design["id"].isna().any():
        raise ValueError("design column 'id' has missing values")
    for f, levels in factors.items():
        col = design[f]
        if col.isna().any():
            raise ValueError(f"design column {f!r} has missing values")
        seen = set(col.astype(str).unique())
        extra = sorted(seen - set(levels))
        if extra:
            raise ValueError(
                f"design column {f!r} has level {extra[0]!r}, which the probability table / "
                f"factors do not list (levels: {', '.join(levels)}); add it to factors and "
                f"give its cells a value"
            )
    frame = design.copy()
    frame.attrs = {}
    for f, levels in factors.items():
        frame[f] = pd.Categorical(frame[f].astype(str), categories=list(levels))
    codes, uniques = pd.factorize(frame["id"], sort=True)
    return frame, codes, len(uniques)


def _cell_lookup(frame: pd.DataFrame, table: pd.Series, factors) -> np.ndarray:
    keys = pd.MultiIndex.from_frame(frame[list(factors)].astype(str))
    return table.reindex(keys).to_numpy(dtype=float)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _random_source(seed: Seed, rng: str):
    if rng not in ("numpy", "r"):
        raise ValueError(f"rng must be 'numpy' or 'r'; got {rng!r}")
    rrandom = _rrandom_class()
    if rrandom is not None and isinstance(seed, rrandom):
        return seed
    if isinstance(seed, np.random.Generator):
        if rng == "r":
            raise ValueError(
                "seed is a numpy Generator but rng='r' needs an int seed (R's set.seed) or an "
                "RRandom stream"
            )
        return seed
    if seed is None:
        if rng == "r":
            raise ValueError("rng='r' needs an int seed (R's set.seed) or an RRandom stream")
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            f"seed must be a non-negative int, a numpy Generator or an RRandom stream; got "
            f"{seed!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    if rng == "r":
        if seed > 2**31 - 1:
            raise ValueError(f"seed must be at most 2**31 - 1 for rng='r' (R's set.seed); "
                             f"got {seed!r}")
        if rrandom is None:
            raise ImportError("rng='r' needs glmmteach.rcompat, which could not be imported")
        return rrandom(int(seed))
    return np.random.default_rng(int(seed))


def _rrandom_class():
    """glmmteach.rcompat.RRandom, imported lazily (only rng='r' needs it)."""
    try:
        from glmmteach.rcompat import RRandom
    except ImportError:  # pragma: no cover - rcompat ships with the package
        return None
    return RRandom


def _draw_normal(source, n: int, sd: float) -> np.ndarray:
    if isinstance(source, np.random.Generator):
        return source.normal(0.0, sd, size=n) if sd > 0 else np.zeros(n)
    return np.asarray(source.rnorm(n, mean=0.0, sd=sd), dtype=float)


def _draw_bernoulli(source, p: np.ndarray) -> np.ndarray:
    if len(p) == 0:
        return np.zeros(0, dtype=np.int64)
    if isinstance(source, np.random.Generator):
        return source.binomial(1, p).astype(np.int64)
    return np.asarray(source.rbinom(len(p), 1, p)).astype(np.int64)
