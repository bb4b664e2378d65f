"""Checkers for exercise 01 (the design and the probability scale).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach import simulate
from glmmteach.course.exercises._common import (
    _Z_REJECT,
    _cell_name,
    _cell_probs,
    _cell_shift_z,
    _cell_values,
    _cells,
    _checker,
    _context,
    _diagnose,
    _frame,
    _in_sd_range,
    _Invalid,
    _nonref_effect,
    _number,
    _numbers,
    _per_subject,
    _sd_range,
    _subject_cells,
    _Wrong,
    _y_mistake,
)

__all__ = [
    "check_design",
    "check_effect_by_level",
    "check_naive_simulation",
    "check_impossible_share",
    "check_cell_proportions",
]

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
    ], what=f"your effects of {effect!r}", hint=f"For each level of {by!r}: probability with "
                                 f"{effect}={factors[effect][1]} minus probability with "
                                 f"{effect}={factors[effect][0]}.")
    size = ", ".join(f"{lv}: {v:+.2f}" for lv, v in zip(levels, exp, strict=True))
    return (f"{size}. The effect differs between the levels of {by!r}: on the probability "
            f"scale the two factors interact.")


@_checker("the naive (probability-scale) simulation")
def check_naive_simulation(value, *, cell_probs, sd: float, factors) -> str:
    """A probability-scale simulation: p = cell probability + u, u ~ N(0, sd) per subject.

    Besides the form, three tests ask whether the data come from that model: the subjects'
    shifts ``p - cell probability`` have mean 0 in every cell and SD ``sd``, and ``y``
    follows Bernoulli(p) where p is possible.
    """
    d = _frame(value, ["id", "p", "y", *factors], "your simulated data")
    table = simulate.cell_table(cell_probs, factors)
    keys = pd.MultiIndex.from_frame(d[list(factors)].astype(str))
    base = table.reindex(keys).to_numpy(dtype=float)
    if np.any(np.isnan(base)):
        raise _Invalid("your data contain factor levels that are not in the cell table")
    p = pd.to_numeric(d["p"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(p)):
        raise _Wrong("column 'p' has missing values; keep every subject's probability, even "
                     "an impossible one (only y is missing there)")
    ids = d["id"].to_numpy()
    shifts = _per_subject(p - base, ids, 1e-9)
    if shifts is None:
        raise _Wrong("the random effect changes from day to day within a subject; draw one "
                     "value per subject and add it to all of that subject's days")
    n = len(shifts)
    sd_hat = float(np.std(shifts, ddof=1)) if n > 1 else 0.0
    if sd > 0 and np.any((p == 0) | (p == 1)) and np.all((p >= 0) & (p <= 1)):
        raise _Wrong("some probabilities are exactly 0 or 1: did you clip them? Clipping "
                     "hides the problem the lesson is about; keep p as computed and let y "
                     "be missing where p is impossible")
    cells = _subject_cells(d, ids, factors)
    z = _cell_shift_z(shifts, cells, max(sd, sd_hat)) if sd > 0 else pd.Series([0.0])
    worst = z.abs().idxmax()
    if abs(z[worst]) > _Z_REJECT:
        mean = float(shifts[cells == worst].mean())
        raise _Wrong(f"in the cell {worst} the subjects' probabilities are not centred on "
                     f"that cell's probability (mean shift {mean:+.3f}, z = "
                     f"{z[worst]:.1f}); are the cell probabilities in the right order "
                     f"(simulate.cell_table(..., factors))?")
    if sd > 0:
        lo, hi = _sd_range(sd, n)
        if not lo <= sd_hat <= hi:
            inside = (p > 0) & (p < 1)
            logit_shift = None
            if np.all(inside):
                logit_shift = _per_subject(
                    simulate.logit(p) - simulate.logit(np.clip(base, 1e-12, 1 - 1e-12)),
                    ids, 1e-7)
            if logit_shift is not None and _in_sd_range(float(logit_shift.std()), sd, n):
                raise _Wrong(f"your random effect is on the log-odds scale (p = inv_logit("
                             f"logit(cell probability) + u)): the shifts of logit(p) have SD "
                             f"{float(logit_shift.std()):.3f}, close to sd = {sd}. That is "
                             f"lesson 02's recipe; this task asks for the naive one, p = cell "
                             f"probability + u")
            if _in_sd_range(sd_hat, sd**2, n):
                raise _Wrong(f"the subjects' shifts have SD {sd_hat:.4f}, about sd**2 = "
                             f"{sd**2:.4g}: you passed the variance where the SD is expected")
            if sd < 1 and _in_sd_range(sd_hat, math.sqrt(sd), n):
                raise _Wrong(f"the subjects' shifts have SD {sd_hat:.4f}, about sqrt(sd): "
                             f"pass the SD itself")
            if _in_sd_range(sd_hat, 100 * sd, n):
                raise _Wrong(f"the subjects' shifts have SD {sd_hat:.4f}, 100 times sd: the SD "
                             f"is a proportion (0.10), not percentage points (10)")
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
    ok = ~impossible & (p > 0) & (p < 1)
    if sd > 0 and ok.any():
        problem = _y_mistake(pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)[ok], p[ok],
                             np.clip(base[ok], 1e-9, 1 - 1e-9))
        if problem:
            raise _Wrong(problem)
    n_bad = int(d.loc[impossible, "id"].nunique())
    return (f"{n} subjects with shifts of SD {sd_hat:.4f} on the probability scale; {n_bad} "
            f"of them got an impossible probability, and their y is missing.")


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
def check_cell_proportions(value, *, data, by: Sequence[str], response: str = "y",
                           planned=None) -> str:
    """Mean of the response in each cell of ``by`` (missing responses left out).

    ``planned`` (optional): the cell probabilities the data were simulated with, so that an
    answer that copies them instead of computing the observed proportions is recognised.
    """
    by = list(by)
    # a frame without a needed column is an invalid answer, not an error of the exercise
    data = _frame(_context(data, "the simulated data"), [*by, response], "the simulated data")
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
        (np.log(expected / (1 - expected)), "these are the log-odds of the proportions; give "
                                            "the proportions themselves"),
        (1 - expected, "these are the proportions of 0s; give the proportions of 1s"),
        (None if planned is None else _cell_probs(planned, factors),
         "these are the planned probabilities the data were simulated with; the task asks "
         "what the data show: the observed proportions"),
    ], what="your proportions", hint=f"Group the rows by {by} and take the mean of "
                                     f"{response!r}.")
    return ("the observed proportions: " + ", ".join(
        f"{_cell_name(c, factors)}: {v:.4f}" for c, v in zip(_cells(factors), expected,
                                                              strict=True)) + ".")


