"""Checkers for exercise 01 (the design and the probability scale).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach import simulate
from glmmteach.course.exercises._common import (
    _cell_name,
    _cell_probs,
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
    _sd_range,
    _Wrong,
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


