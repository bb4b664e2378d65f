"""Checkers for exercise 06 (power, random slopes, singular fits).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from glmmteach import simulate
from glmmteach.course.exercises._common import (
    _checker,
    _context,
    _diagnose,
    _Invalid,
    _number,
    _pair,
    _reference_fit,
    _Wrong,
)

__all__ = [
    "check_power_estimate",
    "check_nsim_needed",
    "check_power_result",
    "check_type_one_error",
    "check_slope_correlation",
    "check_singular_sd",
]

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
        ([1 - p, se], f"the first number is the share of studies that did *not* reject "
                      f"({1 - p:.3f}); power is rejections / nsim"),
        ([p, math.sqrt(0.25 / nsim)], "this SE uses p = 0.5 (the worst case); use the "
                                      "estimated power, sqrt(p (1 - p) / nsim)"),
    ], what="your power and its Monte-Carlo SE", rtol=2e-3, atol=1e-6,
        hint="power = rejections / nsim; mc_se = sqrt(power * (1 - power) / nsim).")
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
    from glmmteach.course.power import PowerResult

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
    from glmmteach.course import power as pw

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
    have = pd.Series(res.settings["coefs"], dtype=float)
    if not math.isclose(float(have.get(term, np.nan)), 0.0, abs_tol=1e-12):
        zeroed = [k for k, v in have.items() if k != term and v == 0.0 and null.get(k, 0) != 0]
        if zeroed:
            raise _Wrong(f"you set {zeroed[0]!r} to 0, but the test is about {term!r}: the "
                         f"null hypothesis of the type-I error is {term} = 0, so set that "
                         f"coefficient to 0 and keep the others")
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
        (math.sqrt(true_sd), "this is the square root of the simulated SD; the task asks for "
                             "the estimated SD"),
    ], what="your SD", rtol=1e-3, atol=1e-4, hint="Read m.varcorr['sdcor'].")
    if m.is_singular:
        return (f"{sd:.4f}: a singular fit. The data cannot tell a between-subject SD of "
                f"{true_sd} from 0, and the fixed effects are those of an ordinary logistic "
                f"regression.")
    return f"{sd:.4f}."

