r"""Checkers for the course's exercises: specific feedback instead of a bare ``assert``.

Every exercise notebook in ``exercises/`` follows a task with a *check cell* such as::

    ex.check_log_odds(lambda: cell_log_odds, probs=STAIRS_PROBS)

The answer is passed wrapped in ``lambda:`` so that the checker can tell an unanswered task
(the variable is not defined yet, the solution cell still raises ``NotImplementedError``, or
the answer is ``None``) from a wrong one. A checker never raises: it returns a
:class:`Feedback` that Jupyter shows as a coloured box (plain text elsewhere), with one of
four outcomes:

* **correct** -- with a sentence on what the number means;
* **not yet** -- which quantity is off and the likely mistake behind it: log-odds given where
  a probability was asked for, a forgotten interaction, a conditional probability where the
  population average was asked for, a random effect added on the wrong scale, ...;
* **not attempted yet** -- the task has not been answered;
* **check the form of your answer** -- wrong type, wrong shape, a missing column or cell.

How the feedback is made: each checker computes the right answer from the task's givens with
the library (``glmmteach.simulate``, ``glmer``, ``checks``, ``power``) and also the answers
that typical mistakes produce; an answer that matches one of those gets the matching
explanation.
"""

from __future__ import annotations

import functools
import html
import math
import numbers
import types
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach import simulate

__all__ = [
    "Feedback",
    # exercise 01
    "check_design",
    "check_effect_by_level",
    "check_naive_simulation",
    "check_impossible_share",
    "check_cell_proportions",
    # exercise 02
    "check_log_odds",
    "check_coefficients",
    "check_odds_ratio",
    "check_logit_simulation",
    # exercise 03
    "check_fitted_model",
    "check_random_sd",
    "check_wald_test",
    "check_se_ratio",
    # exercise 04
    "check_conditional_probabilities",
    "check_combined_odds_ratio",
    "check_marginal_probabilities",
    "check_odds_ratio_vs_risk",
    "check_profile_interval",
    # exercise 05
    "check_lrt",
    "check_flagged_cells",
    "check_residual_group_test",
    # exercise 06
    "check_power_estimate",
    "check_nsim_needed",
    "check_power_result",
    "check_type_one_error",
    "check_slope_correlation",
    "check_singular_sd",
]

CORRECT = "correct"
INCORRECT = "incorrect"
NOT_ATTEMPTED = "not attempted"
INVALID = "invalid"
ERROR = "error"

_HEADLINES = {
    CORRECT: "Correct",
    INCORRECT: "Not yet",
    NOT_ATTEMPTED: "Not attempted yet",
    INVALID: "Check the form of your answer",
    ERROR: "The checker could not check this answer",
}
_COLOURS = {  # background, border
    CORRECT: ("#e8f5e9", "#2e7d32"),
    INCORRECT: ("#fdecea", "#c62828"),
    NOT_ATTEMPTED: ("#f1f3f4", "#757575"),
    INVALID: ("#fff8e1", "#f9a825"),
    ERROR: ("#fff8e1", "#f9a825"),
}


class Feedback:
    """The verdict of a checker, shown as a coloured box in Jupyter and as text elsewhere.

    Attributes
    ----------
    quantity : str
        What was checked, e.g. ``"the log-odds of the four cells"``.
    status : str
        ``"correct"``, ``"incorrect"``, ``"not attempted"``, ``"invalid"`` (wrong type or
        shape) or ``"error"`` (the checker itself failed; please report it).
    message : str
        The explanation: what is right, or which quantity is off and the likely mistake.
    """

    def __init__(self, quantity: str, status: str, message: str) -> None:
        self.quantity = quantity
        self.status = status
        self.message = message

    @property
    def passed(self) -> bool:
        """True when the answer is correct."""
        return self.status == CORRECT

    @property
    def headline(self) -> str:
        return _HEADLINES[self.status]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{self.headline} ({self.quantity}): {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        bg, border = _COLOURS[self.status]
        return (f'<div class="glmmteach-feedback glmmteach-{self.status.replace(" ", "-")}" '
                f'style="background:{bg};border-left:5px solid {border};padding:6px 10px;'
                f'margin:2px 0"><b>{html.escape(self.headline)}</b> '
                f'<span style="color:#555">({html.escape(self.quantity)})</span><br>'
                f"{html.escape(self.message)}</div>")


# --------------------------------------------------------------------------------------------
# the machinery: resolving answers, validating forms, matching mistakes
# --------------------------------------------------------------------------------------------


class _NotAttempted(Exception):
    pass


class _Invalid(Exception):
    pass


class _Wrong(Exception):
    pass


def _resolve(answer, what: str = "your answer"):
    """The value behind ``lambda: name``; raises _NotAttempted for an unanswered task."""
    if isinstance(answer, types.FunctionType | functools.partial):
        try:
            value = answer()
        except NameError as err:
            name = getattr(err, "name", None) or str(err)
            raise _NotAttempted(
                f"`{name}` is not defined yet. Write your code in the task's cell (replace "
                f"the `raise NotImplementedError(...)` line), run it, then run this check "
                f"again.") from None
        except NotImplementedError:
            raise _NotAttempted(
                "the task's cell still raises NotImplementedError. Replace that line with your "
                "code, run it, then run this check again.") from None
        except Exception as err:  # noqa: BLE001 - reported to the student, not raised
            raise _Invalid(f"evaluating {what} raised {type(err).__name__}: {err}") from None
    else:
        value = answer
    if value is None or value is Ellipsis:
        raise _NotAttempted(f"{what} is still {value!r}. Replace it with your result and run "
                            f"the task's cell again.")
    return value


def _context(value, what: str):
    """A checker argument that may depend on an earlier task (passed as a lambda)."""
    try:
        return _resolve(value, what)
    except _NotAttempted:
        raise _NotAttempted(f"this check needs {what} from an earlier task; do that task "
                            f"first.") from None


def _checker(quantity: str) -> Callable:
    """Turn ``fn(value, **givens) -> message`` into a checker that returns Feedback."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(answer, /, **givens) -> Feedback:
            try:
                value = _resolve(answer)
                message = fn(value, **givens)
                return Feedback(quantity, CORRECT, message)
            except _NotAttempted as err:
                return Feedback(quantity, NOT_ATTEMPTED, str(err))
            except _Invalid as err:
                return Feedback(quantity, INVALID, str(err))
            except _Wrong as err:
                return Feedback(quantity, INCORRECT, str(err))
            except Exception as err:  # noqa: BLE001 - a check cell must never raise
                return Feedback(quantity, ERROR,
                                f"{type(err).__name__}: {err}. This is probably a problem of "
                                f"the exercise, not of your answer; please report it.")
        return wrapper

    return decorate


def _number(value, what: str) -> float:
    """A plain finite number (a one-element Series or array is accepted)."""
    if isinstance(value, str):
        raise _Invalid(f"{what} is the text {value!r}; give the number itself, e.g. 0.25, "
                       f"not a string")
    if isinstance(value, bool | np.bool_):
        raise _Invalid(f"{what} is {value!r}, a yes/no value; a number is expected")
    if isinstance(value, pd.Series | pd.DataFrame | np.ndarray | list | tuple):
        arr = np.asarray(value, dtype=object).ravel()
        if arr.size != 1:
            raise _Invalid(f"{what} should be a single number, but you gave {arr.size} values "
                           f"({type(value).__name__} of shape {np.shape(value)})")
        value = arr[0]
    if not isinstance(value, numbers.Real):
        raise _Invalid(f"{what} should be a number, not a {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise _Invalid(f"{what} is {out}; a finite number is expected (did a division by 0 or "
                       f"the log of 0 happen?)")
    return out


def _numbers(value, n: int, what: str) -> np.ndarray:
    """``n`` finite numbers from a list, tuple, array or Series."""
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray | pd.Series):
        raise _Invalid(f"{what} should be {n} numbers (a list, tuple, array or Series), not a "
                       f"{type(value).__name__}")
    if np.ndim(value) > 1:
        raise _Invalid(f"{what} should be {n} numbers in a flat list, array or Series; you "
                       f"gave an array of shape {np.shape(value)}")
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise _Invalid(f"{what} should hold numbers only") from None
    if arr.size != n:
        raise _Invalid(f"{what} should hold {n} numbers; it has {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise _Invalid(f"{what} holds a missing or infinite value")
    return arr


def _frame(value, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise _Invalid(f"{what} should be a pandas DataFrame, not a {type(value).__name__}")
    missing = [c for c in columns if c not in value.columns]
    if missing:
        raise _Invalid(f"{what} has no column {', '.join(repr(c) for c in missing)}; its "
                       f"columns are {list(value.columns)}")
    if len(value) == 0:
        raise _Invalid(f"{what} has no rows")
    return value


def _model(value, what: str = "your model"):
    from glmmteach.results import GlmerResult

    if isinstance(value, GlmerResult):
        return value
    module = type(value).__module__ or ""
    if module.startswith("statsmodels"):
        raise _Invalid(
            f"{what} is a statsmodels {type(value).__name__}. That kind of model treats all "
            f"rows as independent; fit the mixed model with glmmteach.glmer(formula, data), "
            f"with a random intercept (1|id)")
    raise _Invalid(f"{what} should be the result of glmmteach.glmer(...), not a "
                   f"{type(value).__name__}")


def _close(a, b, rtol: float = 1e-3, atol: float = 1e-4) -> bool:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.isfinite(a) == np.isfinite(b))) and bool(
        np.allclose(a[np.isfinite(b)], b[np.isfinite(b)], rtol=rtol, atol=atol))


def _diagnose(value, expected, mistakes: Sequence[tuple[object, str | None]], *, what: str,
              rtol: float = 1e-3, atol: float = 1e-4, hint: str = "") -> None:
    """Return if ``value`` matches ``expected``; else raise _Wrong with the likely mistake.

    ``mistakes`` pairs the answer a typical mistake gives with its explanation; a ``None``
    explanation marks an acceptable variant (accepted as correct).
    """
    if _close(value, expected, rtol, atol):
        return
    for candidate, message in mistakes:
        try:
            match = candidate is not None and _close(value, candidate, rtol, atol)
        except (TypeError, ValueError):
            continue
        if match and message is None:  # an acceptable variant (e.g. n - 1 for n)
            return
        if match:
            raise _Wrong(message)
    raise _Wrong(f"{what} is not right. {hint}".strip())


# --------------------------------------------------------------------------------------------
# cells of a factorial design
# --------------------------------------------------------------------------------------------


def _cells(factors) -> list[tuple[str, ...]]:
    """The cells of a factorial design in R's interaction() order."""
    return simulate._cells(factors)


def _cell_name(cell: tuple[str, ...], factors) -> str:
    return ", ".join(f"{f}={lev}" for f, lev in zip(factors, cell, strict=True))


def _cell_values(value, factors, what: str) -> np.ndarray:
    """One number per cell, in R's interaction() order, from the usual pandas shapes."""
    cells = _cells(factors)
    names = list(factors)
    if isinstance(value, pd.DataFrame):
        fcols = [f for f in names if f in value.columns]
        if len(fcols) == len(names):
            numeric = [c for c in value.columns
                       if c not in names and pd.api.types.is_numeric_dtype(value[c])]
            if len(numeric) != 1:
                raise _Invalid(f"{what}: a DataFrame with the columns {names} should have "
                               f"exactly one numeric column besides them; it has {numeric}")
            value = value.set_index(names)[numeric[0]]
        elif value.shape[1] == 1:
            value = value.iloc[:, 0]
        else:
            raise _Invalid(
                f"{what} is a DataFrame of shape {value.shape}; give one number per cell, e.g. "
                f"a Series indexed by {names} (what df.groupby({names})[col].mean() returns)")
    if isinstance(value, Mapping) and not isinstance(value, pd.Series):
        value = pd.Series(dict(value))
    if isinstance(value, pd.Series):
        s = value
        if isinstance(s.index, pd.MultiIndex):
            if set(s.index.names) == set(names) and list(s.index.names) != names:
                s = s.reorder_levels(names)
            keys = [tuple(str(k) for k in key) for key in s.index]
        else:
            keys = []
            for key in s.index:
                text = str(key)
                parts = tuple(text.split(".")) if "." in text else tuple(text.split(":"))
                keys.append(parts if len(names) > 1 else (text,))
        lookup = {}
        for key, v in zip(keys, s.to_numpy(), strict=True):
            lookup[key] = v
        out = []
        for cell in cells:
            if cell not in lookup:
                raise _Invalid(f"{what} has no value for the cell {_cell_name(cell, factors)}; "
                               f"it should have one value for each of the {len(cells)} cells")
            out.append(lookup[cell])
        extra = [k for k in lookup if k not in cells]
        if extra:
            raise _Invalid(f"{what} has an entry {extra[0]!r} that is not a cell of the design "
                           f"(levels: {dict(factors)})")
        return _numbers(out, len(cells), what)
    if isinstance(value, np.ndarray) and value.ndim > 1:
        raise _Invalid(f"{what} is an array of shape {value.shape}; give one number per cell "
                       f"as a Series indexed by {names}, or a flat list in R's cell order")
    return _numbers(value, len(cells), what)


def _cell_probs(cell_probs, factors) -> np.ndarray:
    return simulate.cell_table(cell_probs, factors).to_numpy(dtype=float)


def _nonref_effect(values: np.ndarray, factors, effect: str, by: str) -> pd.Series:
    """For each level of ``by``: value(effect=2nd level) - value(effect=1st level)."""
    table = pd.Series(values, index=pd.MultiIndex.from_tuples(_cells(factors),
                                                              names=list(factors)))
    lev = factors[effect]
    wide = table.unstack(effect)
    return (wide[lev[1]] - wide[lev[0]]).reindex(list(factors[by]))


# --------------------------------------------------------------------------------------------
# exercise 01: the design and the probability scale
# --------------------------------------------------------------------------------------------


@_checker("the design")
def check_design(value, *, n_subjects: int, n_days: int, factors) -> str:
    """A subjects-by-days design with one level of each factor per subject."""
    d = _frame(value, ["id", "day", *factors], "your design")
    if len(d) != n_subjects * n_days:
        if len(d) == n_subjects:
            raise _Wrong(f"your design has {len(d)} rows, one per subject; it needs one row per "
                         f"subject *and day*: {n_subjects} x {n_days} = {n_subjects * n_days}")
        raise _Wrong(f"your design has {len(d)} rows; {n_subjects} subjects observed on "
                     f"{n_days} days make {n_subjects * n_days}. Check n_subjects and n_days "
                     f"(are they swapped?)")
    ids = d["id"].nunique()
    if ids != n_subjects:
        raise _Wrong(f"your design has {ids} different ids; it should have {n_subjects}")
    per_id = d.groupby("id")["day"].nunique()
    if not (per_id == n_days).all():
        raise _Wrong(f"each subject should appear on {n_days} different days; some appear on "
                     f"{int(per_id.min())}")
    for f, levels in factors.items():
        seen = set(d[f].astype(str).unique())
        if not seen <= set(levels):
            raise _Wrong(f"column {f!r} has the level(s) {sorted(seen - set(levels))}, which "
                         f"are not among {list(levels)}")
        varying = d.groupby("id")[f].nunique()
        if (varying > 1).any():
            raise _Wrong(f"{f!r} changes from day to day within a subject. It is a "
                         f"between-subject factor: draw one level per subject and repeat it on "
                         f"all of that subject's days (make_design does this)")
    counts = d.drop_duplicates("id").groupby(list(factors), observed=True).size()
    return (f"{n_subjects} subjects x {n_days} days, one level of each factor per subject. "
            f"Subjects per cell: {', '.join(str(int(c)) for c in counts)}; with random "
            f"assignment the cells are rarely exactly equal.")


@_checker("the treatment effect on the probability scale")
def check_effect_by_level(value, *, cell_probs, factors, effect: str, by: str) -> str:
    """Probability difference between the two levels of ``effect`` within each level of ``by``."""
    p = _cell_probs(cell_probs, factors)
    expected = _nonref_effect(p, factors, effect, by)
    levels = list(factors[by])
    if isinstance(value, Mapping | pd.Series):
        s = pd.Series(dict(value)) if isinstance(value, Mapping) else value
        s.index = s.index.astype(str)
        missing = [lv for lv in levels if lv not in s.index]
        if missing:
            raise _Invalid(f"your answer should be indexed by the levels of {by!r} "
                           f"({levels}); {missing[0]!r} is missing")
        got = _numbers(s.reindex(levels), len(levels), "your answer")
    else:
        got = _numbers(value, len(levels), "your answer")
    exp = expected.to_numpy()
    ratio = (_nonref_effect(np.log(p), factors, effect, by)).pipe(np.exp).to_numpy()
    other = _nonref_effect(p, factors, by, effect).to_numpy()
    _diagnose(got, exp, [
        (-exp, f"the signs are reversed: subtract the {factors[effect][0]!r} probability from "
               f"the {factors[effect][1]!r} one"),
        (ratio, "these are ratios of probabilities; the effect on the probability scale is a "
                "difference"),
        (other, f"this is the effect of {by!r} within each level of {effect!r}; the task asks "
                f"for the effect of {effect!r} within each level of {by!r}"),
        (100 * exp, "these are percentage points; give the difference as a proportion (0.25, "
                    "not 25)"),
    ], what="your effects", hint=f"For each level of {by!r}: probability with "
                                 f"{effect}={factors[effect][1]} minus probability with "
                                 f"{effect}={factors[effect][0]}.")
    size = ", ".join(f"{lv}: {v:+.2f}" for lv, v in zip(levels, exp, strict=True))
    return (f"{size}. The effect differs between the levels of {by!r}: on the probability "
            f"scale the two factors interact.")


@_checker("the naive (probability-scale) simulation")
def check_naive_simulation(value, *, cell_probs, sd: float, factors) -> str:
    """A probability-scale simulation: p = cell probability + u, u ~ N(0, sd) per subject."""
    d = _frame(value, ["id", "p", "y", *factors], "your simulated data")
    table = simulate.cell_table(cell_probs, factors)
    keys = pd.MultiIndex.from_frame(d[list(factors)].astype(str))
    base = table.reindex(keys).to_numpy(dtype=float)
    if np.any(np.isnan(base)):
        raise _Invalid("your data contain factor levels that are not in the cell table")
    p = d["p"].to_numpy(dtype=float)
    per_subject = d.assign(_u=p - base).groupby("id")["_u"]
    if (per_subject.std(ddof=0).fillna(0) > 1e-9).any():
        raise _Wrong("the random effect changes from day to day within a subject; draw one "
                     "value per subject and add it to all of that subject's days")
    u = per_subject.first().to_numpy()
    n = len(u)
    sd_hat = float(np.std(u, ddof=1)) if n > 1 else 0.0
    if sd > 0 and np.all((p >= 0) & (p <= 1)):
        # clipped? a clipped simulation piles probabilities exactly at 0 or 1
        if np.any((p == 0) | (p == 1)):
            raise _Wrong("some probabilities are exactly 0 or 1: did you clip them? Clipping "
                         "hides the problem the lesson is about; keep p as computed and let y "
                         "be missing where p is impossible")
    eta_u = simulate.logit(np.clip(p, 1e-12, 1 - 1e-12)) - simulate.logit(
        np.clip(base, 1e-12, 1 - 1e-12))
    if sd > 0:
        lo, hi = _sd_range(sd, n)
        if not lo <= sd_hat <= hi:
            logit_sd = float(pd.Series(eta_u).groupby(d["id"].to_numpy()).first().std())
            if abs(sd_hat - sd**2) < abs(sd_hat - sd) and sd_hat < lo:
                raise _Wrong(f"the subjects' shifts have SD {sd_hat:.4f}, about sd**2: did you "
                             f"pass the variance where numpy and simulate expect the SD?")
            if _in_sd_range(logit_sd, sd, n):
                raise _Wrong("your random effect is on the log-odds scale (p = inv_logit(logit("
                             "cell) + u)). That is lesson 02's correct recipe; this task asks "
                             "for the naive one, p = cell probability + u")
            raise _Wrong(f"the subjects' shifts p - (cell probability) have SD {sd_hat:.4f}; "
                         f"with sd = {sd} they should be close to {sd} (between {lo:.3f} and "
                         f"{hi:.3f} for {n} subjects)")
    y = d["y"]
    impossible = (p < 0) | (p > 1)
    y_ok = pd.to_numeric(y[~impossible], errors="coerce")
    if y_ok.isna().any() or not set(np.unique(y_ok.to_numpy())) <= {0, 1}:
        raise _Wrong("y should be 0 or 1 wherever the probability lies in [0, 1]")
    if impossible.any() and pd.to_numeric(y[impossible], errors="coerce").notna().any():
        raise _Wrong("some rows with an impossible probability (below 0 or above 1) have a y; "
                     "no Bernoulli variable has such a probability, so y must be missing there")
    n_bad = int(d.loc[impossible, "id"].nunique())
    return (f"{n} subjects with shifts of SD {sd_hat:.4f} on the probability scale; {n_bad} "
            f"of them got an impossible probability, and their y is missing.")


def _sd_range(sd: float, n: int, z: float = 3.5) -> tuple[float, float]:
    """A generous range for the sample SD of n normal draws with SD ``sd``."""
    rel = z / math.sqrt(2.0 * max(n - 1, 1))
    return sd * max(0.0, 1 - rel), sd * (1 + rel)


def _in_sd_range(value: float, sd: float, n: int) -> bool:
    lo, hi = _sd_range(sd, n)
    return lo <= value <= hi


@_checker("the expected share of impossible probabilities")
def check_impossible_share(value, *, cell_probs, sd: float, factors) -> str:
    """Expected share of subjects whose naive probability leaves [0, 1] (equal cell shares)."""
    got = _number(value, "your share")
    p = _cell_probs(cell_probs, factors)
    expected = simulate.expected_impossible_share(cell_probs, sd, factors)
    below = float(np.mean(stats.norm.cdf(-p / sd)))
    above = float(np.mean(stats.norm.cdf((p - 1) / sd)))
    var = float(np.mean(stats.norm.cdf(-p / sd**2) + stats.norm.cdf((p - 1) / sd**2)))
    total = float(np.sum(stats.norm.cdf(-p / sd) + stats.norm.cdf((p - 1) / sd)))
    _diagnose(got, expected, [
        (below, "you counted only the subjects pushed below 0; add those pushed above 1, "
                "Phi((p - 1) / sd)"),
        (above, "you counted only the subjects pushed above 1; add those pushed below 0, "
                "Phi(-p / sd)"),
        (1 - expected, "this is the share of *possible* probabilities; take 1 minus it"),
        (100 * expected, "this is a percentage; give the share as a proportion"),
        (var, "you divided by the variance sd**2; the normal distribution function needs the "
              "standard deviation"),
        (total, "you added the four cells' shares; with equal numbers of subjects per cell, "
                "average them instead"),
    ], what="your share", rtol=2e-3, atol=1e-6,
        hint="For each cell add Phi(-p/sd) and Phi((p-1)/sd), then average over the cells.")
    return (f"{expected:.4f}: about {100 * expected:.1f}% of the subjects would get an "
            f"impossible probability with sd = {sd}.")


@_checker("the observed proportion of 1s in each cell")
def check_cell_proportions(value, *, data, by: Sequence[str], response: str = "y") -> str:
    """Mean of the response in each cell of ``by`` (missing responses left out)."""
    data = _context(data, "the simulated data")
    by = list(by)
    factors = {f: [str(c) for c in (data[f].cat.categories
                                    if isinstance(data[f].dtype, pd.CategoricalDtype)
                                    else sorted(data[f].astype(str).unique()))]
               for f in by}
    got = _cell_values(value, factors, "your proportions")
    y = pd.to_numeric(data[response], errors="coerce").astype(float)
    keys = data[by].astype(str).apply(tuple, axis=1)
    expected = np.array([y[keys == c].mean() for c in _cells(factors)])
    zeros = np.array([y[keys == c].fillna(0).mean() for c in _cells(factors)])
    sums = np.array([y[keys == c].sum() for c in _cells(factors)])
    _diagnose(got, expected, [
        (zeros, "missing outcomes were counted as 0 (fillna(0)?); leave them out: they are "
                "not observations"),
        (sums, "these are counts of 1s; divide by the number of observed outcomes in the cell "
               "(the mean of y)"),
        (100 * expected, "these are percentages; give proportions"),
    ], what="your proportions", hint=f"Group the rows by {by} and take the mean of "
                                     f"{response!r}.")
    return ("the observed proportions: " + ", ".join(
        f"{_cell_name(c, factors)}: {v:.4f}" for c, v in zip(_cells(factors), expected,
                                                              strict=True)) + ".")


# --------------------------------------------------------------------------------------------
# exercise 02: log-odds
# --------------------------------------------------------------------------------------------


@_checker("the log-odds")
def check_log_odds(value, *, probs) -> str:
    """logit of each probability, in the same order (or index) as ``probs``."""
    p = probs.to_numpy(dtype=float) if isinstance(probs, pd.Series) else np.asarray(
        probs, dtype=float).ravel()
    if isinstance(probs, pd.Series) and isinstance(value, pd.Series) and \
            value.index.equals(probs.index) is False and set(value.index) == set(probs.index):
        value = value.reindex(probs.index)
    got = _numbers(value, len(p), "your log-odds")
    expected = np.log(p / (1 - p))
    _diagnose(got, expected, [
        (p / (1 - p), "these are the odds p / (1 - p); take their natural logarithm"),
        (np.log10(p / (1 - p)), "you used log10; the log-odds use the natural logarithm "
                                "(np.log)"),
        (np.log(p), "this is log(p); the log-odds are log(p / (1 - p))"),
        (-expected, "the signs are flipped: that is log((1 - p) / p), the log-odds of the "
                    "*other* outcome"),
        (p, "these are still probabilities; apply the logit, log(p / (1 - p))"),
        (1 / (1 + np.exp(-p)), "you applied the inverse logit to a probability; the log-odds "
                               "need the logit, log(p / (1 - p))"),
    ], what="your log-odds", hint="Use simulate.logit(p) or np.log(p / (1 - p)).")
    return ("probabilities below 0.5 have negative log-odds, above 0.5 positive; "
            + ", ".join(f"{pi:.2f} -> {e:+.4f}" for pi, e in zip(p, expected, strict=True)))


@_checker("the log-odds coefficients")
def check_coefficients(value, *, cell_probs, factors) -> str:
    """Saturated treatment-contrast coefficients (R's names) that reproduce cell_probs."""
    names = simulate.coef_names(factors)
    if isinstance(value, Mapping | pd.Series):
        s = pd.Series(dict(value)) if isinstance(value, Mapping) else value
        s.index = s.index.astype(str)
        missing = [n for n in names if n not in s.index]
        if missing and len(missing) == 1 and missing[0] == names[-1] and len(s) == len(names) - 1:
            raise _Wrong(f"you have no {names[-1]!r}: without the interaction the four cell "
                         f"probabilities cannot all be reproduced. It is the difference of the "
                         f"two log odds ratios")
        if missing:
            raise _Invalid(f"your coefficients should be named as R names them, {names}; "
                           f"{missing[0]!r} is missing")
        got = _numbers(s.reindex(names), len(names), "your coefficients")
    else:
        got = _numbers(value, len(names), "your coefficients")
    expected = simulate.probs_to_coefs(cell_probs, factors).to_numpy()
    p = _cell_probs(cell_probs, factors)
    on_prob = _linear_coefs(p, factors)
    no_int = expected.copy()
    no_int[-1] = 0.0
    flipped = expected.copy()
    flipped[-1] = -expected[-1]
    _diagnose(got, expected, [
        (on_prob, "these are differences of probabilities; the coefficients are differences "
                  "of log-odds: take the logit of each cell first"),
        (np.exp(expected), "these are exponentiated (odds ratios, and the odds of the "
                           "reference cell); the coefficients are on the log-odds scale"),
        (no_int, f"the interaction {names[-1]!r} is 0 in your answer; it is the treatment "
                 f"effect among the second level minus the effect among the reference level, "
                 f"in log-odds"),
        (flipped, "the interaction has the wrong sign: effect among the non-reference level "
                  "minus effect among the reference level"),
    ], what="your coefficients",
        hint="Intercept = logit of the reference cell; a main effect = its cell's log-odds "
             "minus the reference cell's; the interaction = the difference of the two "
             "log odds ratios.")
    if _close(got[:-1], expected[:-1]) and not _close(got[-1], expected[-1]):
        raise _Wrong(f"intercept and main effects are right; {names[-1]!r} is not. It is "
                     f"(log-odds of both non-reference levels - first main effect - second "
                     f"main effect - intercept)")
    return ", ".join(f"{n} = {v:+.4f}" for n, v in zip(names, expected, strict=True)) + "."


def _linear_coefs(values: np.ndarray, factors) -> np.ndarray:
    """Treatment-contrast coefficients of a saturated *linear* model of the cell values."""
    eta_zero = simulate.probs_to_coefs([0.5] * len(values), factors).to_numpy()
    out = np.zeros(len(values))
    for k in range(len(values)):
        unit = np.full(len(values), 0.5)
        unit[k] = simulate.inv_logit(1.0)
        out = out + values[k] * (simulate.probs_to_coefs(list(unit), factors).to_numpy()
                                 - eta_zero)
    return out


@_checker("the odds ratio")
def check_odds_ratio(value, *, cell_probs, factors, effect: str, among: Mapping[str, str]) -> str:
    """Odds ratio of ``effect`` (2nd vs 1st level) within the cells given by ``among``."""
    got = _number(value, "your odds ratio")
    table = simulate.cell_table(cell_probs, factors)
    names = list(factors)
    lev = factors[effect]

    def cell(level_of_effect, fixed):
        key = tuple(level_of_effect if f == effect else fixed[f] for f in names)
        return float(table[key])

    p1, p0 = cell(lev[1], among), cell(lev[0], among)
    odds = lambda p: p / (1 - p)  # noqa: E731
    expected = odds(p1) / odds(p0)
    ref = {f: factors[f][0] for f in names if f != effect}
    q1, q0 = cell(lev[1], ref), cell(lev[0], ref)
    _diagnose(got, expected, [
        (odds(q1) / odds(q0), f"this is the odds ratio at the reference level "
                              f"({', '.join(f'{k}={v}' for k, v in ref.items())}), "
                              f"exp(main effect) alone: you forgot to add the interaction"),
        (math.log(expected), "this is the log odds ratio; exponentiate it"),
        (p1 / p0, "this is a ratio of probabilities (a relative risk), not of odds"),
        (p1 - p0, "this is a difference of probabilities; the odds ratio is odds1 / odds0"),
        (1 / expected, f"upside down: divide the odds with {effect}={lev[1]} by the odds with "
                       f"{effect}={lev[0]}"),
    ], what="your odds ratio", hint="odds = p / (1 - p) in each of the two cells, then "
                                    "divide; or exp(main effect + interaction).")
    return (f"{expected:.4f}: among {', '.join(f'{k}={v}' for k, v in among.items())}, "
            f"{effect}={lev[1]} multiplies the odds by {expected:.2f}.")


@_checker("the logit-scale simulation")
def check_logit_simulation(value, *, coefs, sd: float, factors) -> str:
    """p = inv_logit(fixed log-odds + u), one u ~ N(0, sd) per subject, y ~ Bernoulli(p)."""
    d = _frame(value, ["id", "p", "y", *factors], "your simulated data")
    beta = simulate.probs_to_coefs(simulate.coefs_to_probs(coefs, factors), factors)
    p_cell = simulate.coefs_to_probs(beta, factors)
    keys = pd.MultiIndex.from_frame(d[list(factors)].astype(str))
    base_p = p_cell.reindex(keys).to_numpy(dtype=float)
    if np.any(np.isnan(base_p)):
        raise _Invalid("your data contain factor levels that the coefficients do not describe")
    p = pd.to_numeric(d["p"], errors="coerce").to_numpy(dtype=float)
    if np.any(~np.isfinite(p)) or np.any((p <= 0) | (p >= 1)):
        raise _Wrong("some probabilities are missing or outside (0, 1); on the log-odds scale "
                     "every probability stays strictly inside")
    u_logit = simulate.logit(p) - simulate.logit(base_p)
    ids = d["id"].to_numpy()
    per = pd.Series(u_logit).groupby(ids)
    n = per.ngroups
    if (per.std(ddof=0).fillna(0) > 1e-7).any():
        raise _Wrong("the random effect changes from day to day within a subject; draw one "
                     "value per subject and add it to every day of that subject")
    u = per.first().to_numpy()
    sd_hat = float(np.std(u, ddof=1)) if n > 1 else 0.0
    no_int = beta.copy()
    no_int.iloc[-1] = 0.0
    u_no_int = simulate.logit(p) - simulate.logit(
        simulate.coefs_to_probs(no_int, factors).reindex(keys).to_numpy(dtype=float))
    u_prob = pd.Series(p - base_p).groupby(ids)
    if sd > 0 and not _in_sd_range(sd_hat, sd, n):
        if (pd.Series(u_no_int).groupby(ids).std(ddof=0).fillna(0) < 1e-7).all() and \
                _in_sd_range(float(pd.Series(u_no_int).groupby(ids).first().std()), sd, n):
            raise _Wrong("your log-odds leave out the interaction coefficient: include all "
                         "four coefficients")
        if (u_prob.std(ddof=0).fillna(0) < 1e-7).all() and \
                _in_sd_range(float(u_prob.first().std()), sd, n):
            raise _Wrong("your random effect was added on the probability scale; add it to "
                         "the log-odds and apply the inverse logit afterwards")
        if _in_sd_range(sd_hat, sd**2, n):
            raise _Wrong(f"the subjects' random effects have SD {sd_hat:.3f}, about sd**2: "
                         f"you passed the variance where the SD was expected")
        if _in_sd_range(sd_hat, math.sqrt(sd), n):
            raise _Wrong(f"the subjects' random effects have SD {sd_hat:.3f}, about sqrt(sd): "
                         f"pass the SD itself")
        lo, hi = _sd_range(sd, n)
        raise _Wrong(f"the subjects' random effects on the log-odds scale have SD "
                     f"{sd_hat:.3f}; with sd = {sd} it should lie between {lo:.2f} and "
                     f"{hi:.2f} for {n} subjects. Are the coefficients the task's?")
    y = pd.to_numeric(d["y"], errors="coerce")
    if y.isna().any() or not set(np.unique(y.to_numpy())) <= {0, 1}:
        raise _Wrong("y should be 0 or 1 in every row")
    return (f"{n} subjects, random effects with SD {sd_hat:.3f} on the log-odds scale, every "
            f"probability inside (0, 1): from {p.min():.3f} to {p.max():.3f}.")


# --------------------------------------------------------------------------------------------
# exercise 03: fitting
# --------------------------------------------------------------------------------------------


def _reference_fit(data, formula: str):
    import warnings

    from glmmteach._warnings import SingularFitWarning
    from glmmteach.fitting import glmer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return glmer(formula, data)


@_checker("the fitted model")
def check_fitted_model(value, *, data, factors: Sequence[str], group: str = "id",
                       response: str = "y") -> str:
    """A glmer fit of ``response ~ f1 * f2 + (1|group)`` to ``data``."""
    m = _model(value)
    data = _context(data, "the data")
    if m.nobs != len(data) or not np.array_equal(np.asarray(m.design.y, dtype=float),
                                                 data[response].to_numpy(dtype=float)):
        raise _Wrong(f"your model was fitted to other data ({m.nobs} rows); fit it to the "
                     f"task's data frame ({len(data)} rows)")
    xnames = list(m.design.xnames)
    interaction = [n for n in xnames if n.count(":") == len(factors) - 1 and ":" in n]
    mains = [f for f in factors if not any(n.startswith(f) for n in xnames)]
    if mains:
        raise _Wrong(f"the fixed effects have no term for {mains[0]!r}; the model needs "
                     f"{' * '.join(factors)}")
    if len(factors) > 1 and not interaction:
        raise _Wrong(f"your model has no interaction: {' + '.join(factors)} forces the effect "
                     f"of one factor to be the same at every level of the other. Use "
                     f"{' * '.join(factors)}")
    groups = [t.group for t in m.design.terms]
    if group not in groups:
        raise _Wrong(f"the random intercept is grouped by {groups}, not by {group!r}: the "
                     f"repeated measurements belong to the same {group}, so use (1|{group})")
    term = next(t for t in m.design.terms if t.group == group)
    note = ""
    if len(groups) > 1 or tuple(term.cnms) != ("(Intercept)",):
        note = (" Your random part has more than a random intercept by id; that is a larger "
                "model than the one asked for.")
    return (f"{m.formula}: logLik {m.loglik:.2f}, random-intercept SD "
            f"{float(m.varcorr['sdcor'].iloc[0]):.3f}.{note}")


@_checker("the estimated random-intercept SD")
def check_random_sd(value, *, data, formula: str, true_sd: float | None = None) -> str:
    """The estimated SD of the random intercept (``varcorr['sdcor']``)."""
    got = _number(value, "your SD")
    data = _context(data, "the data")
    m = _reference_fit(data, formula)
    sd = float(m.varcorr["sdcor"].iloc[0])
    group = m.design.terms[0].group
    modes = m.ranef()[group].iloc[:, 0].to_numpy()
    _diagnose(got, sd, [
        (sd**2, "this is the variance; the SD is its square root (column 'sdcor' of varcorr)"),
        (float(np.std(modes, ddof=1)), "this is the SD of the estimated random effects "
                                       "(ranef); those are shrunk towards 0, so their spread "
                                       "is smaller than the estimated SD. Use varcorr"),
        (float(np.std(modes, ddof=0)), "this is the SD of the estimated random effects "
                                       "(ranef); use the model's estimate in varcorr"),
        (true_sd, "this is the SD the data were simulated with, not the estimate from the "
                  "fit"),
    ], what="your SD", hint="Read it from m.varcorr (column 'sdcor').")
    return (f"{sd:.4f} on the log-odds scale"
            + (f" (the data were simulated with {true_sd})" if true_sd is not None else "")
            + ".")


def _pair(value, keys: Sequence[str], what: str) -> np.ndarray:
    if isinstance(value, Mapping):
        missing = [k for k in keys if k not in value]
        if missing:
            raise _Invalid(f"{what} should have the keys {list(keys)}; {missing[0]!r} is "
                           f"missing")
        return np.array([_number(value[k], f"{what}[{k!r}]") for k in keys])
    arr = _numbers(value, len(keys), what)
    return arr


@_checker("the Wald test")
def check_wald_test(value, *, data, formula: str, term: str) -> str:
    """``(z, p)`` of the two-sided Wald test of ``term``."""
    got = _pair(value, ["z", "p"], "your (z, p)")
    data = _context(data, "the data")
    m = _reference_fit(data, formula)
    est, se = float(m.fixef[term]), float(m.bse[term])
    z = est / se
    p = 2 * stats.norm.sf(abs(z))
    _diagnose(got, [z, p], [
        ([z, p / 2], "the p-value is one-sided; a two-sided test doubles it"),
        ([z, stats.norm.sf(z)], "the p-value is one-sided; use 2 * norm.sf(abs(z))"),
        ([z, stats.norm.cdf(z)], "this p-value is norm.cdf(z); use 2 * norm.sf(abs(z))"),
        ([est / se**2, 2 * stats.norm.sf(abs(est / se**2))],
         "you divided by the variance; z = estimate / standard error"),
        ([est / math.sqrt(se), 2 * stats.norm.sf(abs(est / math.sqrt(se)))],
         "you divided by the square root of the SE; z = estimate / SE"),
        ([p, z], "z and p are swapped"),
    ], what="your (z, p)", rtol=2e-3, atol=1e-6,
        hint="z = estimate / SE from m.fixef and m.bse; p = 2 * scipy.stats.norm.sf(abs(z)).")
    return f"z = {z:.3f}, p = {p:.3g}; the same as the summary's {term!r} row."


@_checker("the ratio of standard errors")
def check_se_ratio(value, *, data, formula: str, term: str) -> str:
    """SE of ``term`` from a logistic regression ignoring the groups / the GLMM's SE."""
    import statsmodels.api as sm

    got = _number(value, "your ratio")
    data = _context(data, "the data")
    m = _reference_fit(data, formula)
    X = np.asarray(m.design.X)
    glm = sm.GLM(np.asarray(m.design.y), X, family=sm.families.Binomial()).fit()
    k = list(m.design.xnames).index(term)
    se_glm, se_glmm = float(glm.bse[k]), float(m.bse[term])
    expected = se_glm / se_glmm
    _diagnose(got, expected, [
        (1 / expected, "upside down: divide the GLM's SE by the mixed model's"),
        (expected**2, "this is a ratio of variances; take the ratio of standard errors"),
    ], what="your ratio", rtol=5e-3,
        hint="statsmodels' GLM (family Binomial) on the same fixed effects, then "
             "glm_se / m.bse[term].")
    return (f"{expected:.3f}: ignoring that rows of the same subject are alike makes the "
            f"standard error of a between-subject effect {100 * (1 - expected):.0f}% too "
            f"small, and its tests too optimistic.")


# --------------------------------------------------------------------------------------------
# exercise 04: interpreting
# --------------------------------------------------------------------------------------------


def _cell_eta(m, factors) -> np.ndarray:
    beta = m.fixef
    eta = []
    for cell in _cells(factors):
        total = 0.0
        for name, v in beta.items():
            parts = [] if name == "(Intercept)" else name.split(":")
            if all(any(part == f"{f}{lev}" for f, lev in zip(factors, cell, strict=True))
                   for part in parts):
                total += float(v)
        eta.append(total)
    return np.array(eta)


def _gh_marginal(eta: np.ndarray, sd: float, n: int = 64) -> np.ndarray:
    """E[inv_logit(eta + sd Z)], Z ~ N(0, 1), by Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    return np.array([float(np.sum(w * simulate.inv_logit(e + sd * x))) for e in eta])


@_checker("the probabilities of a typical subject in each cell")
def check_conditional_probabilities(value, *, model, factors) -> str:
    """inv_logit of each cell's fixed-effect log-odds (random effect 0)."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _cell_values(value, factors, "your probabilities")
    eta = _cell_eta(m, factors)
    expected = simulate.inv_logit(eta)
    sd = float(m.varcorr["sdcor"].iloc[0])
    no_int = eta.copy()
    cells = _cells(factors)
    both = [k for k, c in enumerate(cells) if all(lv != factors[f][0]
                                                  for f, lv in zip(factors, c, strict=True))]
    last = list(m.fixef.index)[-1]
    for k in both:
        no_int[k] -= float(m.fixef[last])
    _diagnose(got, expected, [
        (eta, "these are log-odds; apply the inverse logit, 1 / (1 + exp(-eta))"),
        (simulate.inv_logit(no_int), f"the cell with both non-reference levels is off: you "
                                     f"left out the interaction {last!r}"),
        (_gh_marginal(eta, sd), "these are population-averaged (marginal) probabilities; the "
                                "task asks for a typical subject, random effect 0"),
        (np.exp(eta), "these are odds, exp(eta); the probability is odds / (1 + odds)"),
    ], what="your probabilities", rtol=2e-3,
        hint="Add up the coefficients that apply to each cell, then take the inverse logit.")
    return ", ".join(f"{_cell_name(c, factors)}: {v:.4f}"
                     for c, v in zip(cells, expected, strict=True)) + "."


@_checker("the odds ratio with its Wald interval")
def check_combined_odds_ratio(value, *, model, terms: Sequence[str], level: float = 0.95) -> str:
    """exp(sum of ``terms``) and its Wald interval, as ``(estimate, lower, upper)``."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _pair(value, ["estimate", "lower", "upper"], "your (estimate, lower, upper)")
    terms = list(terms)
    b = m.fixef[terms].to_numpy()
    V = m.vcov.loc[terms, terms].to_numpy()
    est = float(b.sum())
    se = math.sqrt(float(V.sum()))
    se_nocov = math.sqrt(float(np.trace(V)))
    z = stats.norm.isf((1 - level) / 2)
    expected = np.exp([est, est - z * se, est + z * se])
    first = float(b[0])
    se_first = math.sqrt(float(V[0, 0]))
    _diagnose(got, expected, [
        ([est, est - z * se, est + z * se], "these are on the log-odds scale; exponentiate "
                                             "all three numbers"),
        (np.exp([est, est - z * se_nocov, est + z * se_nocov]),
         "the estimate is right but the interval ignores the covariance of the two "
         "coefficients: Var(b1 + b3) = Var(b1) + Var(b3) + 2 Cov(b1, b3), from m.vcov"),
        (np.exp([first, first - z * se_first, first + z * se_first]),
         f"this is exp({terms[0]!r}) alone, the odds ratio at the reference level: add the "
         f"interaction"),
        ([math.exp(est), math.exp(est) - z * se, math.exp(est) + z * se],
         "the interval was built on the odds-ratio scale; build it on the log scale, "
         "est +- z * SE, and exponentiate the limits"),
    ], what="your odds ratio and interval", rtol=2e-3,
        hint="Estimate b = sum of the coefficients, SE from the matching block of m.vcov, "
             "then exp(b), exp(b -+ 1.96 SE).")
    return (f"odds ratio {expected[0]:.3f}, {100 * level:.0f}% interval {expected[1]:.3f} to "
            f"{expected[2]:.3f}.")


@_checker("the population-averaged probabilities")
def check_marginal_probabilities(value, *, model, factors) -> str:
    """E over u ~ N(0, sigma) of inv_logit(cell log-odds + u), for each cell."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _cell_values(value, factors, "your probabilities")
    eta = _cell_eta(m, factors)
    sd = float(m.varcorr["sdcor"].iloc[0])
    expected = _gh_marginal(eta, sd)
    _diagnose(got, expected, [
        (simulate.inv_logit(eta), "these are the probabilities of a typical subject (random "
                                  "effect 0), the conditional ones; average inv_logit(eta + u) "
                                  "over the distribution of u instead"),
        (_gh_marginal(eta, sd**2), "you used the variance as the SD of u"),
        (_gh_marginal(eta, math.sqrt(sd)), "you used the square root of the SD as the SD of u"),
    ], what="your probabilities", rtol=0, atol=4e-3,
        hint="Draw many u ~ N(0, sd) (or use quadrature) and average inv_logit(eta + u) in "
             "each cell.")
    diff = expected - simulate.inv_logit(eta)
    return ("the population averages: " + ", ".join(
        f"{_cell_name(c, factors)}: {v:.3f}" for c, v in zip(_cells(factors), expected,
                                                             strict=True))
            + f". They are pulled towards 0.5 by up to {np.max(np.abs(diff)):.3f} compared "
              f"with a typical subject.")


@_checker("the odds ratio against the difference of probabilities")
def check_odds_ratio_vs_risk(value, *, p_control: float, p_treat: float) -> str:
    """``{"odds_ratio": ..., "risk_difference": ...}`` for two probabilities."""
    got = _pair(value, ["odds_ratio", "risk_difference"], "your answer")
    odds = lambda p: p / (1 - p)  # noqa: E731
    orr = odds(p_treat) / odds(p_control)
    rd = p_treat - p_control
    _diagnose(got, [orr, rd], [
        ([p_treat / p_control, rd], "the first number is the ratio of probabilities (relative "
                                    "risk); the odds ratio divides odds"),
        ([1 / orr, rd], "the odds ratio is upside down: treated odds over control odds"),
        ([orr, 100 * rd], "the difference is in percentage points; give it as a proportion"),
        ([orr, -rd], "the difference has the wrong sign: treated minus control"),
        ([math.log(orr), rd], "this is the log odds ratio; exponentiate it"),
    ], what="your numbers", rtol=2e-3, atol=1e-6)
    return (f"odds ratio {orr:.3f} but only {rd:+.3f} in probability: a large odds ratio can "
            f"describe a small change when both probabilities are small.")


@_checker("the profile-likelihood interval of the odds ratio")
def check_profile_interval(value, *, model, term: str, level: float = 0.95) -> str:
    """exp of the profile interval of ``term`` as ``(lower, upper)``."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _pair(value, ["lower", "upper"], "your interval")
    ci = m.confint(parm=term, level=level, method="profile")
    lo, hi = (float(v) for v in ci.iloc[0, :2])
    wald = m.confint(parm=term, level=level, method="wald")
    wlo, whi = (float(v) for v in wald.iloc[0, :2])
    expected = np.exp([lo, hi])
    if _close(got, np.exp([wlo, whi]), rtol=2e-3) and not _close(got, expected, rtol=2e-3):
        return (f"that is the Wald interval {np.exp(wlo):.3f} to {np.exp(whi):.3f}; the "
                f"profile interval is {expected[0]:.3f} to {expected[1]:.3f}. They are close "
                f"here because the log-likelihood is nearly quadratic in {term!r}.")
    _diagnose(got, expected, [
        ([lo, hi], "this interval is on the log-odds scale; exponentiate both limits"),
    ], what="your interval", rtol=2e-3,
        hint=f"np.exp(m.confint(parm={term!r}, method='profile')).")
    return (f"{expected[0]:.3f} to {expected[1]:.3f}: the odds ratio is at least "
            f"{expected[0]:.2f} with {100 * level:.0f}% confidence.")


# --------------------------------------------------------------------------------------------
# exercise 05: checking
# --------------------------------------------------------------------------------------------


@_checker("the likelihood-ratio test")
def check_lrt(value, *, small, big) -> str:
    """``{"chisq": ..., "df": ..., "p": ...}`` comparing two nested fits."""
    small = _model(_context(small, "the smaller model"), "the smaller model")
    big = _model(_context(big, "the larger model"), "the larger model")
    got = _pair(value, ["chisq", "df", "p"], "your (chisq, df, p)")
    chisq = 2 * (big.loglik - small.loglik)
    df = big.n_params - small.n_params
    p = stats.chi2.sf(chisq, df)
    half = chisq / 2
    _diagnose(got, [chisq, df, p], [
        ([half, df, stats.chi2.sf(half, df)], "the statistic is twice the difference of the "
                                              "log-likelihoods; you left out the factor 2"),
        ([-chisq, df, 1.0], "the statistic is negative: larger model minus smaller model"),
        ([chisq, df + 1, stats.chi2.sf(chisq, df + 1)],
         "the degrees of freedom are the difference in the number of parameters"),
        ([chisq, big.n_params, stats.chi2.sf(chisq, big.n_params)],
         "the degrees of freedom are the *difference* in the number of parameters"),
        ([chisq, df, stats.norm.sf(math.sqrt(max(chisq, 0)))], "the p-value comes from the "
                                                                "chi-squared distribution"),
    ], what="your test", rtol=2e-3, atol=1e-8)
    return (f"chi-squared {chisq:.2f} on {df} df, p = {p:.3g}: the interaction is clearly "
            f"needed." if p < 0.05 else f"chi-squared {chisq:.2f} on {df} df, p = {p:.3g}.")


def _cell_keys(value, by: Sequence[str]) -> set[tuple[str, ...]]:
    if isinstance(value, pd.DataFrame):
        _frame(value, by, "your cells")
        return {tuple(str(v) for v in row) for row in value[list(by)].itertuples(index=False)}
    if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset | np.ndarray):
        raise _Invalid("give the cells as a list, e.g. [('poster', 'older')], or an empty list "
                       "if no cell is flagged")
    out = set()
    for item in value:
        if isinstance(item, str):
            parts = tuple(item.split(".")) if "." in item else tuple(item.split(":"))
        elif isinstance(item, Sequence):
            parts = tuple(str(v) for v in item)
        else:
            raise _Invalid(f"cannot read the cell {item!r}; write it as a tuple of levels, "
                           f"e.g. ('poster', 'older')")
        if len(parts) != len(by):
            raise _Invalid(f"the cell {item!r} should name one level of each of {list(by)}")
        out.add(parts)
    return out


@_checker("the cells the model misses")
def check_flagged_cells(value, *, model, by: Sequence[str], nsim: int, seed: int,
                        alpha: float = 0.05, other_model=None) -> str:
    """Cells whose predictive-check p-value is below ``alpha``."""
    from glmmteach import checks

    m = _model(_context(model, "the fitted model"), "model")
    got = _cell_keys(value, by)
    summary = checks.predictive_check(m, by=list(by), nsim=nsim, seed=seed).summary()
    keys = [tuple(str(v) for v in row) for row in summary[list(by)].itertuples(index=False)]
    pvals = dict(zip(keys, summary["p_value"], strict=True))
    expected = {k for k, pv in pvals.items() if pv < alpha}
    if got == expected:
        return ("the model misses " + (", ".join(".".join(k) for k in sorted(expected))
                                       if expected else "no cell")
                + f" (p-values {', '.join(f'{pvals[k]:.3f}' for k in sorted(expected))}).")
    unknown = got - set(keys)
    if unknown:
        raise _Invalid(f"{sorted(unknown)[0]!r} is not a cell of the data; cells are "
                       f"{keys}")
    if got == set(keys):
        raise _Wrong("you listed every cell; keep only those whose p_value is below "
                     f"{alpha}")
    if got and got == {k for k, pv in pvals.items() if pv >= alpha}:
        raise _Wrong(f"these are the cells the model reproduces well (p_value >= {alpha}); "
                     f"the task asks for the ones it misses")
    if other_model is not None:
        om = _model(_context(other_model, "the other model"), "the other model")
        s2 = checks.predictive_check(om, by=list(by), nsim=nsim, seed=seed).summary()
        k2 = {tuple(str(v) for v in row[:len(by)])
              for row in s2[[*by, "p_value"]].itertuples(index=False) if row[-1] < alpha}
        if got == k2:
            raise _Wrong("these are the flagged cells of the other model; check the model "
                         "without the interaction")
    raise _Wrong(f"not the right cells. Use checks.predictive_check(model, by={list(by)}, "
                 f"nsim={nsim}, seed={seed}).summary() and keep the rows with p_value < "
                 f"{alpha}")


@_checker("the residual test by cell")
def check_residual_group_test(value, *, models: Mapping[str, object], by: Sequence[str],
                              nsim: int, seed: int, group: str = "id") -> str:
    """``{name: p}``: p-value of checks.group_test on per-``group`` scaled residuals."""
    from glmmteach import checks

    names = list(models)
    got = _pair(value, names, "your p-values")
    fitted = {k: _model(_context(v, f"the model {k!r}"), k) for k, v in models.items()}

    def p_of(m, grp, test):
        res = checks.scaled_residuals(m, nsim=nsim, seed=seed, group=grp)
        return (checks.group_test(res, by=list(by)) if test == "group"
                else checks.uniformity_test(res)).p_value

    expected = np.array([p_of(fitted[k], group, "group") for k in names])
    _diagnose(got, expected, [
        (expected[::-1], "the two p-values are swapped between the models"),
        (np.array([p_of(fitted[k], None, "group") for k in names]),
         f"these come from residuals per observation; single 0/1 rows say little. Use "
         f"group={group!r} in scaled_residuals"),
        (np.array([p_of(fitted[k], group, "ks") for k in names]),
         f"these are uniformity (Kolmogorov-Smirnov) tests of all residuals pooled; the task "
         f"asks for group_test(res, by={list(by)}), which compares the cells"),
    ], what="your p-values", rtol=1e-3, atol=1e-12,
        hint=f"scaled_residuals(model, nsim={nsim}, seed={seed}, group={group!r}), then "
             f"group_test(res, by={list(by)}).p_value for each model.")
    return ", ".join(f"{k}: p = {p:.3g}" for k, p in zip(names, expected, strict=True)) + (
        ". Only a check that looks where a model could be wrong (here: the cells) can see it.")


# --------------------------------------------------------------------------------------------
# exercise 06: power, random slopes, singular fits
# --------------------------------------------------------------------------------------------


@_checker("the power estimate and its Monte-Carlo standard error")
def check_power_estimate(value, *, rejections: int, nsim: int) -> str:
    """``(power, mc_se)`` from ``rejections`` out of ``nsim`` simulated studies."""
    got = _pair(value, ["power", "mc_se"], "your (power, mc_se)")
    p = rejections / nsim
    se = math.sqrt(p * (1 - p) / nsim)
    _diagnose(got, [p, se], [
        ([p, p * (1 - p) / nsim], "the second number is the variance; take its square root"),
        ([p, 1.96 * se], "the second number is the 95% half-width, 1.96 x SE; give the SE "
                         "itself"),
        ([100 * p, 100 * se], "these are percentages; give proportions"),
        ([p, math.sqrt(p * (1 - p) / (nsim - 1))], None),
        ([p, math.sqrt(p * (1 - p))], "divide by the number of simulated studies inside the "
                                      "square root"),
    ], what="your numbers", rtol=2e-3, atol=1e-6)
    return (f"power {p:.3f} with Monte-Carlo SE {se:.4f}: report it as {p:.2f} +- "
            f"{1.96 * se:.2f}.")


@_checker("the number of simulated studies")
def check_nsim_needed(value, *, power: float, target_se: float) -> str:
    """The smallest nsim with sqrt(power (1 - power) / nsim) <= target_se."""
    got = _number(value, "your number")
    expected = math.ceil(power * (1 - power) / target_se**2 - 1e-9)
    if abs(got - expected) <= 1:
        return (f"{expected} studies: the Monte-Carlo SE shrinks like 1/sqrt(nsim), so halving "
                f"it takes four times as many.")
    mistakes = [
        (math.sqrt(power * (1 - power)) / target_se, "you forgot to square: nsim = p (1 - p) "
                                                     "/ SE**2"),
        (power * (1 - power) / target_se, "divide by the *square* of the target SE"),
        (1.96**2 * power * (1 - power) / target_se**2, "this makes the 95% half-width (1.96 x "
                                                       "SE) equal to the target; the task asks "
                                                       "for the SE itself"),
    ]
    for cand, msg in mistakes:
        if abs(got - cand) <= max(1.0, 1e-3 * cand):
            raise _Wrong(msg)
    raise _Wrong("solve sqrt(p (1 - p) / nsim) = target for nsim and round up")


def _power_result(value):
    from glmmteach.power import PowerResult

    if not isinstance(value, PowerResult):
        raise _Invalid(f"your result should come from power.power_curve(...), not a "
                       f"{type(value).__name__}")
    return value


def _check_settings(res, *, n_subjects, n_days, sd, coefs, factors, term, nsim) -> None:
    s = res.settings
    wrong = []
    if sorted(s["n_subjects"]) != sorted(n_subjects):
        wrong.append(f"n_subjects {s['n_subjects']} instead of {list(n_subjects)}")
    if s["n_days"] != n_days:
        wrong.append(f"n_days={s['n_days']} instead of {n_days}")
    if not math.isclose(s["sd"], sd):
        wrong.append(f"sd={s['sd']} instead of {sd}"
                     + (" (the article's default)" if math.isclose(s["sd"], 0.03) else ""))
    if dict(s["factors"]) != {k: tuple(v) for k, v in factors.items()}:
        wrong.append("the article's factors instead of the task's (pass factors=...)")
    else:
        want = simulate.probs_to_coefs(simulate.coefs_to_probs(coefs, factors), factors)
        have = pd.Series(s["coefs"])
        if not np.allclose(have.reindex(want.index).to_numpy(), want.to_numpy(), atol=1e-6):
            wrong.append("other coefficients than the task's (pass coefs=...)")
    if s["term"] != term:
        wrong.append(f"term={s['term']!r} instead of {term!r}")
    if s["nsim"] != nsim:
        wrong.append(f"nsim={s['nsim']} instead of {nsim}")
    if wrong:
        raise _Wrong("your simulation used " + "; ".join(wrong) + ".")


@_checker("the power curve")
def check_power_result(value, *, n_subjects, n_days: int, sd: float, coefs, factors,
                       term: str, nsim: int) -> str:
    """A PowerResult with the task's settings and plausible powers."""
    from glmmteach import power as pw

    res = _power_result(value)
    _check_settings(res, n_subjects=n_subjects, n_days=n_days, sd=sd, coefs=coefs,
                    factors=factors, term=term, nsim=nsim)
    approx = pw.approximate_power(list(n_subjects), n_days=n_days, coefs=coefs, sd=sd,
                                  factors=factors, term=term)
    table = res.table.set_index("n_subjects")
    for n, a in zip(approx["n_subjects"], approx["power"], strict=True):
        got = float(table.loc[n, "power"])
        if abs(got - a) > 4 * math.sqrt(0.25 / nsim) + 0.05:
            raise _Wrong(f"with {n} subjects your power is {got:.2f}, far from the "
                         f"large-sample value {a:.2f}; check the coefficients and the test")
    return ("; ".join(f"{int(n)} subjects: power {row.power:.2f} (95% MC interval "
                      f"{row.lower:.2f}-{row.upper:.2f})" for n, row in table.iterrows())
            + ".")


@_checker("the type-I error rate")
def check_type_one_error(value, *, n_subjects: int, n_days: int, sd: float, coefs, factors,
                         term: str, nsim: int) -> str:
    """A PowerResult simulated with ``term`` set to 0: its power is the type-I error rate."""
    res = _power_result(value)
    null = dict(simulate.probs_to_coefs(simulate.coefs_to_probs(coefs, factors), factors))
    if not math.isclose(float(pd.Series(res.settings["coefs"]).get(term, np.nan)), 0.0,
                        abs_tol=1e-12):
        raise _Wrong(f"the true {term!r} in your simulation is "
                     f"{res.settings['coefs'].get(term)!r}; for the type-I error set it to 0 "
                     f"(the null hypothesis is true)")
    null[term] = 0.0
    _check_settings(res, n_subjects=[n_subjects], n_days=n_days, sd=sd, coefs=null,
                    factors=factors, term=term, nsim=nsim)
    row = res.table.iloc[0]
    alpha = res.settings["alpha"]
    verdict = ("within Monte-Carlo error of the nominal 0.05"
               if row.lower <= alpha <= row.upper
               else ("above 0.05: the Wald test rejects a true null too often at this size"
                     if row.lower > alpha else "below 0.05: the test is conservative here"))
    return (f"{int(row.rejections)} of {int(row.nsim - row.n_failed)} null studies rejected: "
            f"{row.power:.3f} (95% MC interval {row.lower:.3f}-{row.upper:.3f}), {verdict}.")


@_checker("the intercept-slope correlation")
def check_slope_correlation(value, *, data, formula: str, time: str | None = None,
                            centred_at: float | None = None) -> str:
    """The estimated correlation of a ``(1 + time | g)`` term (third row of varcorr).

    With ``time`` and ``centred_at``, the correlation of the same model with ``time``
    shifted by ``centred_at`` is recognised as a mistake (it describes another day 0).
    """
    got = _number(value, "your correlation")
    data = _context(data, "the data")
    m = _reference_fit(data, formula)
    vc = m.varcorr
    if len(vc) < 3:
        raise _Wrong("the model in the check has no correlation; is the formula right?")
    cor = float(vc["sdcor"].iloc[2])
    mistakes = [
        (float(vc["vcov"].iloc[2]), "this is the covariance; the correlation divides it by "
                                    "both SDs (column 'sdcor')"),
        (float(vc["sdcor"].iloc[1]), "this is the SD of the slopes; the correlation is in the "
                                     "third row of varcorr"),
        (float(vc["sdcor"].iloc[0]), "this is the SD of the intercepts; the correlation is in "
                                     "the third row of varcorr"),
        (-cor, "the sign is flipped"),
    ]
    if time is not None and centred_at is not None:
        mc = _reference_fit(data.assign(**{time: data[time] - centred_at}), formula)
        mistakes.append((float(mc.varcorr["sdcor"].iloc[2]),
                         "this is the correlation with the days centred: it describes "
                         "subjects mid-study; the task puts day 0 at the first day"))
    _diagnose(got, cor, mistakes, what="your correlation", rtol=2e-3, atol=2e-3,
              hint="Fit the model with (1 + day0 | id) and read the third row of m.varcorr.")
    direction = ("start higher tend to rise faster" if cor > 0
                 else "start higher tend to rise more slowly")
    return f"{cor:.3f}: subjects who {direction} (on the log-odds scale, from day 0)."


@_checker("the estimated SD of a singular fit")
def check_singular_sd(value, *, data, formula: str, true_sd: float) -> str:
    """The estimated random-intercept SD of a fit that is singular (0)."""
    got = _number(value, "your SD")
    data = _context(data, "the data")
    m = _reference_fit(data, formula)
    sd = float(m.varcorr["sdcor"].iloc[0])
    _diagnose(got, sd, [
        (true_sd, "this is the SD the data were simulated with; the task asks for the "
                  "estimate"),
        (true_sd**2, "this is the simulated variance; the task asks for the estimated SD"),
    ], what="your SD", rtol=1e-3, atol=1e-4, hint="Read m.varcorr['sdcor'].")
    if m.is_singular:
        return (f"{sd:.4f}: a singular fit. The data cannot tell a between-subject SD of "
                f"{true_sd} from 0, and the fixed effects are those of an ordinary logistic "
                f"regression.")
    return f"{sd:.4f}."
