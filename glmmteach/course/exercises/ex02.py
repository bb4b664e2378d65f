"""Checkers for exercise 02 (log-odds).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from glmmteach import simulate
from glmmteach.course.exercises._common import (
    _Z_REJECT,
    _cell_probs,
    _cell_shift_z,
    _checker,
    _close,
    _diagnose,
    _frame,
    _in_sd_range,
    _Invalid,
    _number,
    _numbers,
    _per_subject,
    _sd_range,
    _subject_cells,
    _Wrong,
    _y_mistake,
)

__all__ = [
    "check_log_odds",
    "check_coefficients",
    "check_odds_ratio",
    "check_logit_simulation",
]

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
        (100 * p, "these are the probabilities in percent; the log-odds are log(p / (1 - p)) "
                  "of the proportions"),
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
    """p = inv_logit(fixed log-odds + u), one u ~ N(0, sd) per subject, y ~ Bernoulli(p).

    Besides the form, the check tests the data-generating model: the subjects' shifts
    ``logit(p) - (cell log-odds)`` must have mean 0 in every cell (a left-out or wrong
    coefficient moves a whole cell) and SD ``sd``, and ``y`` must follow Bernoulli(p).
    """
    d = _frame(value, ["id", "p", "y", *factors], "your simulated data")
    beta = simulate.probs_to_coefs(simulate.coefs_to_probs(coefs, factors), factors)
    p_cell = simulate.coefs_to_probs(beta, factors)
    keys = pd.MultiIndex.from_frame(d[list(factors)].astype(str))
    base_p = p_cell.reindex(keys).to_numpy(dtype=float)
    if np.any(np.isnan(base_p)):
        raise _Invalid("your data contain factor levels that the coefficients do not describe")
    p = pd.to_numeric(d["p"], errors="coerce").to_numpy(dtype=float)
    if np.any(~np.isfinite(p)) or np.any((p <= 0) | (p >= 1)):
        raise _Wrong("some probabilities are missing or outside (0, 1): was the random effect "
                     "added to the probability instead of the log-odds? On the log-odds scale "
                     "every probability stays strictly inside")
    if "eta" in d.columns:  # simulate_logit_scale's column of fixed log-odds: check exactly
        _check_eta_column(d, beta, keys, factors)
    ids = d["id"].to_numpy()
    u = _per_subject(simulate.logit(p) - simulate.logit(base_p), ids, 1e-7)
    if u is None:
        raise _Wrong("the random effect changes from day to day within a subject; draw one "
                     "value per subject and add it to every day of that subject")
    n = len(u)
    sd_hat = float(np.std(u, ddof=1)) if n > 1 else 0.0
    cells = _subject_cells(d, ids, factors)
    names = list(beta.index)

    def centred(shift) -> bool:
        return shift is not None and float(
            _cell_shift_z(shift, cells, max(sd, float(shift.std()))).abs().max()) <= _Z_REJECT

    def shifts_without(term: str):
        other = beta.copy()
        other[term] = 0.0
        q = simulate.coefs_to_probs(other, factors).reindex(keys).to_numpy(dtype=float)
        return _per_subject(simulate.logit(p) - simulate.logit(q), ids, 1e-7)

    u_prob = _per_subject(p - base_p, ids, 1e-9)
    if sd > 0 and not _in_sd_range(sd_hat, sd, n) and u_prob is not None and \
            float(u_prob.std()) > 0 and _in_sd_range(float(u_prob.std()), sd, n):
        raise _Wrong("your random effect was added on the probability scale; add it to the "
                     "log-odds and apply the inverse logit afterwards")
    if sd > 0:
        z = _cell_shift_z(u, cells, max(sd, sd_hat))
        if float(z.abs().max()) > _Z_REJECT:
            for term in reversed(names):
                alt = shifts_without(term)
                if centred(alt) and _in_sd_range(float(alt.std()), sd, n):
                    what = ("the interaction coefficient" if ":" in term
                            else f"the coefficient {term!r}")
                    raise _Wrong(f"your log-odds leave out {what} ({term} = "
                                 f"{float(beta[term]):+.3f}): the subjects in the affected "
                                 f"cells are shifted by that much. Include all "
                                 f"{len(names)} coefficients")
            worst = z.abs().idxmax()
            raise _Wrong(f"in the cell {worst} the subjects' log-odds are not centred on that "
                         f"cell's log-odds (mean shift {float(u[cells == worst].mean()):+.3f}, "
                         f"z = {z[worst]:.1f}). Are the coefficients the task's, with R's "
                         f"names (simulate.probs_to_coefs)?")
        if not _in_sd_range(sd_hat, sd, n):
            if _in_sd_range(sd_hat, sd**2, n):
                raise _Wrong(f"the subjects' random effects have SD {sd_hat:.3f}, about "
                             f"sd**2 = {sd**2:.3g}: you passed the variance where the SD is "
                             f"expected")
            if _in_sd_range(sd_hat, math.sqrt(sd), n):
                raise _Wrong(f"the subjects' random effects have SD {sd_hat:.3f}, about "
                             f"sqrt(sd) = {math.sqrt(sd):.3f}: pass the SD itself")
            lo, hi = _sd_range(sd, n)
            raise _Wrong(f"the subjects' random effects on the log-odds scale have SD "
                         f"{sd_hat:.3f}; with sd = {sd} it should lie between {lo:.2f} and "
                         f"{hi:.2f} for {n} subjects")
    y = pd.to_numeric(d["y"], errors="coerce")
    if y.isna().any() or not set(np.unique(y.to_numpy())) <= {0, 1}:
        raise _Wrong("y should be 0 or 1 in every row")
    if sd > 0:
        problem = _y_mistake(y.to_numpy(dtype=float), p, base_p)
        if problem:
            raise _Wrong(problem)
    return (f"{n} subjects, random effects with SD {sd_hat:.3f} on the log-odds scale and "
            f"centred in every cell, every probability inside (0, 1): from {p.min():.3f} to "
            f"{p.max():.3f}.")


def _check_eta_column(d: pd.DataFrame, beta: pd.Series, keys, factors) -> None:
    """The column ``eta`` must hold each row's fixed log-odds under the task's coefficients."""
    eta = pd.to_numeric(d["eta"], errors="coerce").to_numpy(dtype=float)
    want = simulate.logit(simulate.coefs_to_probs(beta, factors)).reindex(keys).to_numpy()
    if _close(eta, want, rtol=1e-6, atol=1e-6):
        return
    for term in reversed(list(beta.index)):
        other = beta.copy()
        other[term] = 0.0
        alt = simulate.logit(simulate.coefs_to_probs(other, factors)).reindex(keys).to_numpy()
        if _close(eta, alt, rtol=1e-6, atol=1e-6):
            what = "the interaction coefficient" if ":" in term else f"the coefficient {term!r}"
            raise _Wrong(f"your log-odds leave out {what} ({term} = {float(beta[term]):+.3f}): "
                         f"column 'eta' is the log-odds without it. Include all "
                         f"{len(beta)} coefficients")
    if _close(eta, simulate.inv_logit(want), rtol=1e-6, atol=1e-6):
        raise _Wrong("column 'eta' holds probabilities; the linear predictor is on the "
                     "log-odds scale (pass the coefficients from simulate.probs_to_coefs)")
    raise _Wrong("column 'eta' (the fixed log-odds) does not match the task's coefficients: "
                 "pass simulate.probs_to_coefs(cell probabilities, factors), with R's names")
