"""Checkers for exercise 03 (fitting).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from glmmteach.course.exercises._common import (
    _checker,
    _context,
    _diagnose,
    _model,
    _number,
    _pair,
    _reference_fit,
    _Wrong,
)

__all__ = [
    "check_fitted_model",
    "check_random_sd",
    "check_wald_test",
    "check_se_ratio",
]

# --------------------------------------------------------------------------------------------
# exercise 03: fitting
# --------------------------------------------------------------------------------------------




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
        (math.sqrt(sd), "this is the square root of the SD; column 'sdcor' of varcorr holds "
                        "the SD itself"),
        (math.exp(sd), "this is exp(SD); the SD is reported on the log-odds scale, as it is"),
    ], what="your SD", hint="Read it from m.varcorr (column 'sdcor').")
    return (f"{sd:.4f} on the log-odds scale"
            + (f" (the data were simulated with {true_sd})" if true_sd is not None else "")
            + ".")




@_checker("the Wald test")
def check_wald_test(value, *, data, formula: str, term: str) -> str:
    """``(z, p)`` of the two-sided Wald test of ``term``."""
    got = _pair(value, ["z", "p"], "your (z, p)")
    data = _context(data, "the data")
    m = _reference_fit(data, formula)
    est, se = float(m.fixef[term]), float(m.bse[term])
    z = est / se
    p = 2 * stats.norm.sf(abs(z))
    one = stats.norm.sf(abs(z))
    _diagnose(got, [z, p], [
        ([z, one], f"the p-value is one-sided ({one:.3g}, the area in one tail only); the "
                   f"two-sided test adds both tails: 2 * norm.sf(abs(z))"),
        ([z, 1 - one], "this p-value is the area on the wrong side of z (close to 1); the "
                       "two-sided p is 2 * norm.sf(abs(z))"),
        ([z, 2 * (1 - one)], "you doubled the wrong tail (2 * norm.cdf(|z|) is above 1); use "
                             "2 * norm.sf(abs(z))"),
        ([z, stats.norm.pdf(z)], "this is the normal density at z, not a tail probability; "
                                 "use 2 * norm.sf(abs(z))"),
        ([-z, p], "the z statistic has the wrong sign: estimate / SE, not SE / estimate or "
                  "minus the estimate"),
        ([est / se**2, 2 * stats.norm.sf(abs(est / se**2))],
         "you divided by the variance; z = estimate / standard error"),
        ([est / math.sqrt(se), 2 * stats.norm.sf(abs(est / math.sqrt(se)))],
         "you divided by the square root of the SE; z = estimate / SE"),
        ([p, z], "z and p are swapped: give (z, p)"),
        *[([float(m.fixef[t] / m.bse[t]), 2 * stats.norm.sf(abs(float(m.fixef[t] / m.bse[t])))],
           f"this is the test of {t!r}; the task asks for {term!r}")
          for t in m.fixef.index if t != term],
    ], what="your (z, p)", rtol=2e-3, atol=[1e-6, 0.0],
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
    others = [(float(glm.bse[j]) / float(m.bse[t]),
               f"this is the ratio for {t!r}; the task asks for {term!r}")
              for j, t in enumerate(m.design.xnames) if t != term]
    _diagnose(got, expected, [
        (1 / expected, "upside down: divide the GLM's SE by the mixed model's"),
        (expected**2, "this is a ratio of variances; take the ratio of standard errors"),
        (math.sqrt(expected), "this is the square root of the ratio of standard errors; "
                              "divide the two SEs themselves"),
        (100 * expected, "this is a percentage; give the ratio itself (e.g. 0.8, not 80)"),
        *others,
    ], what="your ratio", rtol=5e-3,
        hint="statsmodels' GLM (family Binomial) on the same fixed effects, then "
             "glm_se / m.bse[term].")
    return (f"{expected:.3f}: ignoring that rows of the same subject are alike makes the "
            f"standard error of a between-subject effect {100 * (1 - expected):.0f}% too "
            f"small, and its tests too optimistic.")


