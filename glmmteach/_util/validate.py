"""Small named input checks, one function per rule.

Each check raises a ``TypeError`` or ``ValueError`` whose message names the argument or the
column and says what to do, and returns ``None`` when the input is fine. They run before any
numerical work (see CONTRIBUTING.md, "Bad input"). The design builder uses them; the engine may
reuse them.

Package-private; imports nothing from glmmteach except ``glmmteach.warnings`` and other
``_util`` modules.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_formula_text",
    "check_data_frame",
    "check_has_random_terms",
    "check_columns_exist",
    "check_binary_response",
    "check_two_level_response",
    "check_cbind_counts",
    "check_proportion_response",
    "check_response_varies",
    "check_no_weights_with_cbind",
    "check_weights_length",
    "check_weights_values",
    "check_finite",
    "check_factor_has_two_levels",
    "check_group_has_two_levels",
    "check_group_fewer_levels_than_obs",
    "check_nobs_vs_nre",
    "check_known_levels",
    "check_newdata_columns",
]


def _preview(values: Iterable[Any], k: int = 5) -> str:
    items = list(values)
    text = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in items[:k])
    return text + (", ..." if len(items) > k else "")


def _rows(mask: np.ndarray, k: int = 5) -> str:
    idx = np.flatnonzero(mask)
    return f"{idx.size} row{'s' if idx.size != 1 else ''} (positions {_preview(idx.tolist(), k)})"


def check_formula_text(formula: Any) -> None:
    """A formula is a string containing ``~``.

    Parameters
    ----------
    formula : object
        The ``formula`` argument.

    Raises
    ------
    TypeError
        If it is not a string.
    ValueError
        If it has no ``~``.
    """
    if not isinstance(formula, str):
        raise TypeError(
            f"formula must be a string such as 'y ~ x + (1 | id)', not {type(formula).__name__}"
        )
    if "~" not in formula:
        raise ValueError(
            f"formula {formula!r} has no '~': write the response, '~', then the predictors, "
            "e.g. 'y ~ x + (1 | id)'"
        )


def check_data_frame(data: Any, argument: str = "data") -> None:
    """The data are a pandas DataFrame.

    Parameters
    ----------
    data : object
        The value passed.
    argument : str
        The argument's name, for the message.

    Raises
    ------
    TypeError
        If ``data`` is not a ``pandas.DataFrame``.
    """
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"{argument} must be a pandas DataFrame, not {type(data).__name__}; "
            f"wrap it with pandas.DataFrame({argument})"
        )


def check_has_random_terms(n_random: int, formula: str) -> None:
    """A mixed model needs at least one random-effect term.

    Parameters
    ----------
    n_random : int
        Number of random-effect terms in the formula.
    formula : str
        The formula, for the message.

    Raises
    ------
    ValueError
        If there is none; points to statsmodels' GLM for fixed-effects-only models.
    """
    if n_random == 0:
        raise ValueError(
            f"the formula {formula!r} has no random-effect term such as (1 | id). Add one, or "
            "fit a fixed-effects-only logistic regression with statsmodels: "
            "statsmodels.formula.api.glm(formula, data, family=statsmodels.api.families."
            "Binomial()) (or statsmodels.api.GLM with arrays)"
        )


def check_columns_exist(names: Sequence[str], columns: Sequence[Any], where: str = "data") -> None:
    """Every name used by the formula is a column.

    Parameters
    ----------
    names : sequence of str
        Names the formula (or ``weights=``) refers to.
    columns : sequence
        The columns available (non-string labels cannot be named in a formula).
    where : str
        What holds the columns (``"data"``, ``"newdata"``), for the message.

    Raises
    ------
    ValueError
        Naming the first unknown name and close matches (``difflib``).
    """
    available = [c for c in columns if isinstance(c, str)]
    have = set(available)
    for name in names:
        if name not in have:
            same_case = [c for c in available if c.lower() == name.lower()]
            close = same_case + [c for c in difflib.get_close_matches(
                name, available, n=3, cutoff=0.6) if c not in same_case]
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"column {name!r} is not in {where}{hint}")


def check_binary_response(values: np.ndarray, name: str) -> None:
    """A numeric response without ``weights=`` holds only 0 and 1.

    Parameters
    ----------
    values : ndarray
        The response.
    name : str
        The response's name.

    Raises
    ------
    ValueError
        If other values occur; suggests ``cbind(successes, failures)`` or proportions with
        ``weights=`` for counts.
    """
    bad = (values != 0) & (values != 1)
    if bad.any():
        odd = np.unique(values[bad])
        raise ValueError(
            f"the response {name!r} must hold 0/1 values, but has {_preview(odd.tolist())} in "
            f"{_rows(bad)}. For counts of successes out of n trials use "
            "cbind(successes, failures) ~ ..., or give the proportion successes/n as the "
            "response with weights=n"
        )


def check_two_level_response(levels: Sequence[Any], name: str) -> None:
    """A categorical response has at most two levels (first = failure, as in R).

    Parameters
    ----------
    levels : sequence
        The response's levels, in order.
    name : str
        The response's name.

    Raises
    ------
    ValueError
        If there are more than two levels.
    """
    if len(levels) > 2:
        raise ValueError(
            f"the response {name!r} has {len(levels)} levels ({_preview(levels)}); a binomial "
            f"model needs two (the first is the failure). Recode it, e.g. "
            f"I({name} == {levels[-1]!r}) ~ ..."
        )


def check_cbind_counts(successes: np.ndarray, failures: np.ndarray, name: str) -> None:
    """``cbind(successes, failures)`` holds finite, non-negative counts.

    Parameters
    ----------
    successes, failures : ndarray
        The two columns.
    name : str
        The response as written, e.g. ``"cbind(s, n - s)"``.

    Raises
    ------
    ValueError
        For non-finite or negative counts (negative failures usually mean successes > trials,
        or that the second column holds trials instead of failures).
    """
    for label, v in (("first (successes)", successes), ("second (failures)", failures)):
        bad = ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"the {label} column of {name} is not finite in {_rows(bad)}")
    if (successes < 0).any():
        raise ValueError(
            f"the first (successes) column of {name} is negative in {_rows(successes < 0)}; "
            "counts must be >= 0"
        )
    if (failures < 0).any():
        raise ValueError(
            f"the second (failures) column of {name} is negative in {_rows(failures < 0)}: "
            "successes exceed trials there. cbind() takes (successes, failures), not "
            "(successes, trials): write cbind(s, n - s)"
        )


def check_proportion_response(values: np.ndarray, name: str) -> None:
    """A response given with ``weights=`` is a proportion in [0, 1].

    Parameters
    ----------
    values : ndarray
        The response.
    name : str
        The response's name.

    Raises
    ------
    ValueError
        If a value lies outside [0, 1] (or is not finite).
    """
    bad = ~((values >= 0) & (values <= 1))
    if bad.any():
        odd = np.unique(values[bad])
        raise ValueError(
            f"with weights= the response {name!r} must be a proportion in [0, 1] (successes / "
            f"trials, with weights = trials), but has {_preview(odd.tolist())} in {_rows(bad)}. "
            "For counts use cbind(successes, failures) ~ ... without weights"
        )


def check_response_varies(successes: np.ndarray, failures: np.ndarray, name: str) -> None:
    """Both outcomes occur somewhere in the data.

    Parameters
    ----------
    successes, failures : ndarray
        Weighted numbers of successes and failures per row.
    name : str
        The response's name.

    Raises
    ------
    ValueError
        If the response is all 0 or all 1 ("nothing to model").
    """
    if not (successes > 0).any():
        raise ValueError(
            f"the response {name!r} has no successes (all 0): nothing to model. Check the "
            "coding of the outcome"
        )
    if not (failures > 0).any():
        raise ValueError(
            f"the response {name!r} has no failures (all 1): nothing to model. Check the "
            "coding of the outcome"
        )


def check_no_weights_with_cbind(weights: Any, response: str) -> None:
    """``weights=`` is not combined with a ``cbind()`` response.

    Parameters
    ----------
    weights : object
        The ``weights`` argument.
    response : str
        The response as written.

    Raises
    ------
    ValueError
        If both are given (the trials are already successes + failures).
    """
    if weights is not None:
        raise ValueError(
            f"weights= cannot be combined with the response {response}: the number of trials "
            "is already successes + failures. Drop weights=, or give proportions with weights"
        )


def check_weights_length(n_weights: int, n_rows: int) -> None:
    """``weights`` has one value per row of ``data``.

    Parameters
    ----------
    n_weights : int
        Length of ``weights``.
    n_rows : int
        Rows of ``data``.

    Raises
    ------
    ValueError
        If the lengths differ.
    """
    if n_weights != n_rows:
        raise ValueError(
            f"weights has {n_weights} values but data has {n_rows} rows; give one weight "
            "(number of trials) per row, or the name of a column"
        )


def check_weights_values(weights: np.ndarray, name: str = "weights") -> None:
    """Weights (numbers of trials) are finite and not negative.

    Parameters
    ----------
    weights : ndarray
        The weights of the rows kept (missing values already dropped).
    name : str
        ``"weights"`` or the column's name.

    Raises
    ------
    ValueError
        For infinite or negative weights, or when all are zero.
    """
    bad = ~np.isfinite(weights)
    if bad.any():
        raise ValueError(f"{name} must be finite, but is infinite in {_rows(bad)}")
    if (weights < 0).any():
        raise ValueError(
            f"{name} must be >= 0 (numbers of trials), but is negative in {_rows(weights < 0)}"
        )
    if not (weights > 0).any():
        raise ValueError(f"{name} are all zero: no trials to model")


def check_finite(values: np.ndarray, name: str, role: str = "predictor") -> None:
    """A numeric variable has no infinite (or NaN-producing) values.

    Parameters
    ----------
    values : ndarray
        The evaluated variable (rows with missing data already dropped).
    name : str
        The variable as written in the formula, e.g. ``"log(dose)"``.
    role : str
        ``"predictor"``, ``"offset"``, ...

    Raises
    ------
    ValueError
        Naming the variable and the rows.
    """
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"the {role} {name!r} is not finite (inf, or NaN produced by the expression) in "
            f"{_rows(bad)}; fix or remove those values (missing values are dropped, infinite "
            "ones are not)"
        )


def check_factor_has_two_levels(levels: Sequence[Any], name: str) -> None:
    """A categorical predictor with contrasts needs at least two levels in the data used.

    Parameters
    ----------
    levels : sequence
        Levels present in the rows used.
    name : str
        The variable.

    Raises
    ------
    ValueError
        If there is a single level (R: "contrasts can be applied only to factors with 2 or
        more levels").
    """
    if len(levels) < 2:
        raise ValueError(
            f"the categorical predictor {name!r} has a single level ({_preview(levels)}) in the "
            "rows used; it cannot be estimated: remove it from the formula"
        )


def check_group_has_two_levels(n_levels: int, group: str) -> None:
    """A grouping factor needs at least 2 levels.

    Parameters
    ----------
    n_levels : int
        Number of levels in the rows used.
    group : str
        The grouping factor's name.

    Raises
    ------
    ValueError
        If it has fewer than 2.
    """
    if n_levels < 2:
        raise ValueError(
            f"the grouping factor {group!r} needs at least 2 levels, but has {n_levels} in the "
            "rows used; a variance cannot be estimated from one group: drop the term"
        )


def check_group_fewer_levels_than_obs(n_levels: int, n_obs: int, group: str) -> None:
    """lme4's rule: the number of levels of each grouping factor must be < number of observations.

    Parameters
    ----------
    n_levels : int
        Number of levels.
    n_obs : int
        Number of rows used.
    group : str
        The grouping factor's name.

    Raises
    ------
    ValueError
        If every observation is its own group (the random effect is not identifiable from 0/1
        data).
    """
    if n_levels >= n_obs:
        raise ValueError(
            f"number of levels of each grouping factor must be < number of observations: "
            f"{group!r} has {n_levels} levels for {n_obs} observations. With one row per group "
            "the group effect cannot be told apart from the binomial noise; group more coarsely "
            "or use aggregated counts with cbind(successes, failures)"
        )


def check_nobs_vs_nre(n_obs: int, n_re: int, term: str) -> None:
    """lme4's rule: no more random effects in one term than observations.

    Parameters
    ----------
    n_obs : int
        Number of rows used.
    n_re : int
        Levels times columns of the term.
    term : str
        The term, e.g. ``"(1 + x | id)"``.

    Raises
    ------
    ValueError
        If ``n_obs < n_re``.
    """
    if n_obs < n_re:
        raise ValueError(
            f"number of observations (={n_obs}) < number of random effects (={n_re}) for term "
            f"{term}; the random-effects parameters are probably unidentifiable: simplify "
            "the term (e.g. (1 | g) instead of (1 + x | g))"
        )


def check_known_levels(unknown: Sequence[Any], column: str, known: Sequence[Any]) -> None:
    """``newdata`` uses only levels seen when the model was fitted.

    Parameters
    ----------
    unknown : sequence
        Values of ``newdata`` not among the fitted levels.
    column : str
        The variable.
    known : sequence
        The fitted levels.

    Raises
    ------
    ValueError
        If ``unknown`` is not empty.
    """
    if len(unknown):
        raise ValueError(
            f"newdata column {column!r} has level(s) {_preview(unknown)} not seen in the fit; "
            f"known levels: {_preview(known, 10)}"
        )


def check_newdata_columns(names: Sequence[str], newdata: Any) -> None:
    """``newdata`` is a DataFrame with every column the prediction needs.

    Parameters
    ----------
    names : sequence of str
        Columns needed.
    newdata : object
        The ``newdata`` argument.

    Raises
    ------
    TypeError
        If ``newdata`` is not a DataFrame.
    ValueError
        Naming the first missing column.
    """
    check_data_frame(newdata, "newdata")
    check_columns_exist(names, list(newdata.columns), "newdata")


# --------------------------------------------------------------------------------------------
# Arguments of the functions that take a fitted model (inference, interpretation, checks).
# Unlike the checks above, these return the normalized value.
# --------------------------------------------------------------------------------------------

__all__ += ["check_nsim", "check_seed"]


def check_nsim(nsim: Any, argument: str = "nsim") -> int:
    """A number of simulations (or replicates): a whole number >= 1.

    Parameters
    ----------
    nsim : object
        The value to check.
    argument : str
        The argument's name, for the message.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For a bool, a non-integer (``2.5``, ``"10"``) or a number below 1.
    """
    if isinstance(nsim, bool) or not isinstance(nsim, (int, np.integer)):
        raise ValueError(f"{argument} must be a whole number >= 1, not {nsim!r}")
    if nsim < 1:
        raise ValueError(f"{argument}={int(nsim)}: at least 1 simulation is needed (give a "
                         "whole number >= 1)")
    return int(nsim)


def check_seed(seed: Any, argument: str = "seed") -> Any:
    """A seed: None, a whole number >= 0, a numpy ``Generator`` or a ``SeedSequence``.

    Parameters
    ----------
    seed : object
        The value to check.
    argument : str
        The argument's name, for the message.

    Returns
    -------
    None, int, numpy.random.Generator or numpy.random.SeedSequence
        ``seed`` (a numpy integer as a Python ``int``); a Generator is returned as it is,
        without drawing from it.

    Raises
    ------
    ValueError
        For a negative number, a bool, a float, a string or anything else.
    """
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"{argument} must be None, a whole number >= 0, a numpy.random.Generator or a "
            f"numpy.random.SeedSequence, not {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------------------------
# The shape of the data frame, mixed-type responses, extreme values, non-integer counts, and
# clusters with a constant response (issue 13).
# --------------------------------------------------------------------------------------------

__all__ += ["check_has_rows", "check_enough_rows", "check_unique_columns",
            "check_response_not_mixed", "check_magnitude", "warn_noninteger_successes",
            "constant_clusters", "MAX_ABS_PREDICTOR"]

#: Largest absolute value of a numeric predictor accepted. Beyond it the information matrix
#: (sums of x^2 times the weights) spans more orders of magnitude than double precision holds
#: next to the intercept's column, so the fit loses all precision (from about 1e40) or
#: overflows (about 1e150); no measurement in natural units comes near it.
MAX_ABS_PREDICTOR = 1e30


def check_has_rows(n_rows: int, argument: str = "data") -> None:
    """The frame has at least one row.

    Raises
    ------
    ValueError
        For a frame with no rows (say after filtering everything away).
    """
    if n_rows == 0:
        raise ValueError(f"{argument} has no rows (0 rows, before any row was dropped): check "
                         "the filtering that produced it")


def check_enough_rows(n_rows: int, n_dropped: int = 0) -> None:
    """A mixed model needs at least two rows (and usually many more).

    Parameters
    ----------
    n_rows : int
        Rows left after dropping rows with missing values.
    n_dropped : int
        Rows dropped, for the message.

    Raises
    ------
    ValueError
        With fewer than 2 rows ("too few rows").
    """
    if n_rows == 0:
        raise ValueError(f"no rows left after dropping the {n_dropped} rows with missing values "
                         "in the columns the model uses")
    if n_rows < 2:
        after = f" (after dropping {n_dropped} with missing values)" if n_dropped else ""
        raise ValueError(f"too few rows: the data have {n_rows} row{after}; a mixed model needs "
                         "several observations in each of at least 2 groups")


def check_unique_columns(names: Sequence[str], columns: Sequence[Any],
                         where: str = "data") -> None:
    """The columns the model uses are not duplicated in the frame.

    Parameters
    ----------
    names : sequence of str
        Columns used by the formula (and ``weights=``/``offset=``).
    columns : sequence
        The frame's column labels.
    where : str
        The frame's name, for the message.

    Raises
    ------
    ValueError
        Naming every duplicated column the model uses.
    """
    counts: dict[Any, int] = {}
    for c in columns:
        counts[c] = counts.get(c, 0) + 1
    dup = [n for n in dict.fromkeys(names) if counts.get(n, 0) > 1]
    if dup:
        listed = ", ".join(f"{n!r} ({counts[n]} times)" for n in dup)
        raise ValueError(
            f"{where} has duplicated column names used by the model: {listed}. Rename or drop "
            f"the copies, e.g. {where} = {where}.loc[:, ~{where}.columns.duplicated()]")


def check_response_not_mixed(values: Any, name: str) -> None:
    """A categorical response does not mix numbers and strings (``0``, ``1`` and ``"1"``).

    Parameters
    ----------
    values : pandas.Series
        The response column.
    name : str
        The response's name.

    Raises
    ------
    ValueError
        Listing the distinct values with their types, e.g. ``0, 1, '1'``.
    """
    import pandas as pd

    if not isinstance(values, pd.Series) or values.dtype != object:
        return
    present = values.dropna()
    kinds = {"string" if isinstance(v, str) else "number" if isinstance(
        v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        else type(v).__name__ for v in present}
    if len(kinds) > 1:
        distinct = sorted(dict.fromkeys((isinstance(v, str), str(v), v) for v in present))
        shown = ", ".join(repr(v) for _, _, v in distinct[:8]) + (", ..." if len(distinct) > 8
                                                                else "")
        raise ValueError(
            f"the response {name!r} mixes {' and '.join(sorted(kinds))} values: {shown}. "
            f"Make it one type first, e.g. data[{name!r}] = pandas.to_numeric(data[{name!r}]) "
            "for 0/1")


def check_magnitude(values: np.ndarray, name: str, role: str = "predictor") -> None:
    """A numeric variable's values are not so large that the fit overflows.

    Parameters
    ----------
    values : ndarray
        The evaluated variable (finite).
    name : str
        The variable as written in the formula.
    role : str
        ``"predictor"``, ``"random-effect covariate"``, ...

    Raises
    ------
    ValueError
        If some ``|value| >= MAX_ABS_PREDICTOR``: names the variable and suggests rescaling.
    """
    a = np.abs(np.asarray(values, dtype=float))
    big = a >= MAX_ABS_PREDICTOR
    if big.any():
        raise ValueError(
            f"the {role} {name!r} has values as large as {float(a.max()):.3g} (in {_rows(big)}); "
            f"the fit would lose all precision or overflow. Rescale or centre it (change its "
            f"units), e.g. I(({name} - m) / s) or "
            "scale(...), or use log(...) of a positive variable")


def warn_noninteger_successes(successes: np.ndarray, name: str, how: str) -> None:
    """Warn, as R does, when the numbers of successes are not whole numbers.

    Parameters
    ----------
    successes : ndarray
        Successes per row: ``y * weights``, or the first column of ``cbind()``.
    name : str
        The response as written.
    how : str
        What produced them, for the message (``"y * weights"``, ...).

    Warns
    -----
    NonIntegerSuccessesWarning
        When some ``|k - round(k)| > 0.001`` (R's tolerance). The likelihood then uses
        ``round(k)`` in the binomial coefficient, as R does.
    """
    from glmmteach.warnings import NonIntegerSuccessesWarning, warn

    k = np.asarray(successes, dtype=float)
    bad = np.abs(k - np.round(k)) > 1e-3
    if bad.any():
        odd = _preview([float(f"{v:.4g}") for v in k[bad]])
        warn(f"non-integer #successes in a binomial glmm: {how} for the response {name!r} is "
             f"not a whole number in {_rows(bad)} (e.g. {odd}"
             "). A proportion response needs weights = the numbers of trials, so that "
             "proportion x weights counts successes; check the weights (prior weights that are "
             "not trial counts make the likelihood and its tests wrong)",
             NonIntegerSuccessesWarning)


def constant_clusters(successes: np.ndarray, failures: np.ndarray,
                      codes: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Which levels of a grouping factor have only failures, and which only successes.

    Parameters
    ----------
    successes, failures : ndarray
        Weighted successes and failures per row.
    codes : ndarray of int
        The grouping factor's codes per row (0..n_levels-1).
    n_levels : int
        Its number of levels.

    Returns
    -------
    all_zero, all_one : ndarray of bool, shape (n_levels,)
        Levels with trials whose every outcome is 0 (resp. 1).
    """
    codes = np.asarray(codes, dtype=np.int64)
    ok = codes >= 0
    s = np.bincount(codes[ok], weights=np.asarray(successes, float)[ok], minlength=n_levels)
    f = np.bincount(codes[ok], weights=np.asarray(failures, float)[ok], minlength=n_levels)
    return (s == 0) & (f > 0), (f == 0) & (s > 0)


def group_separation_message(successes: np.ndarray, failures: np.ndarray, codes: np.ndarray,
                             levels: Sequence[Any], group: str) -> str | None:
    """The message for separation at the group level, or None.

    When every level of a grouping factor with a random intercept is all 0 or all 1, the
    likelihood keeps increasing as that factor's SD grows: the SD is not identified (the fit
    stops at an arbitrary large value). lme4 reports a convergence failure there.

    Parameters
    ----------
    successes, failures : ndarray
        Weighted successes and failures per row.
    codes : ndarray of int
        The grouping factor's codes per row.
    levels : sequence
        Its level labels.
    group : str
        Its name.

    Returns
    -------
    str or None
    """
    zero, one = constant_clusters(successes, failures, codes, len(levels))
    s = np.bincount(np.asarray(codes)[np.asarray(codes) >= 0], minlength=len(levels))
    empty = s == 0
    if not (zero | one | empty).all() or not (zero | one).any():
        return None
    labels = [str(v) for v in levels]
    z = [labels[i] for i in np.flatnonzero(zero)]
    o = [labels[i] for i in np.flatnonzero(one)]
    parts = []
    if z:
        parts.append(f"{len(z)} all 0 ({_preview(z)})")
    if o:
        parts.append(f"{len(o)} all 1 ({_preview(o)})")
    return (f"separation at the group level: every cluster of {group!r} has a constant "
            f"response ({' and '.join(parts)}), so the standard deviation of the random "
            f"intercept for {group!r} is not identified (the likelihood grows as it grows) and "
            "its estimate, and the fixed effects' standard errors, are not meaningful. The "
            "groups, not the rows, carry the outcome: model the group-level outcome, or add "
            "a predictor that varies within groups")


# --------------------------------------------------------------------------------------------
# counts, scales, levels and probabilities shared by the simulation, inference and course code
# --------------------------------------------------------------------------------------------

__all__ += ["check_count", "check_sd", "check_level", "check_open_unit"]


def check_count(value, name: str) -> int:
    """A whole number >= 1 (numbers of subjects, days, simulations, ...)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_sd(sd, name: str = "sd") -> float:
    """A finite standard deviation >= 0."""
    if isinstance(sd, bool) or not isinstance(sd, numbers.Real):
        raise ValueError(f"{name} must be a non-negative number; got {sd!r}")
    sd = float(sd)
    if not math.isfinite(sd) or sd < 0:
        raise ValueError(f"{name} must be a non-negative finite number; got {sd!r}")
    return sd


def check_level(level) -> float:
    """A confidence level strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise ValueError(f"level must be a number between 0 and 1 (e.g. 0.95), not {level!r}")
    level = float(level)
    if not (0.0 < level < 1.0) or math.isnan(level):
        raise ValueError(
            f"level={level} is outside (0, 1); give the confidence level as a proportion, "
            "e.g. 0.95 for 95 % intervals")
    return level


def check_open_unit(value, name: str, what: str = "a number") -> float:
    """A number strictly between 0 and 1 (a probability, a significance level ``alpha``)."""
    if (isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating))
            or not 0 < value < 1):
        raise ValueError(f"{name} must be {what} strictly between 0 and 1, not {value!r}")
    return float(value)
