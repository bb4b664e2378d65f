"""Checkers of exercise 07: a real analysis of the Bangladesh contraception survey.

Each checker recomputes the right answer from the models the student fitted (so an answer is
judged against the student's own fits) and the answers of typical mistakes: the wrong scale,
conditional for marginal, Wald for profile, a variance for an SD, the wrong level or model.

Imports the shared machinery of this package and the library below ``course``
(``diagnostics.checks``, ``inference``); nothing imports it but this package's ``__init__``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach import simulate
from glmmteach.course.exercises._common import (
    _checker,
    _close,
    _context,
    _diagnose,
    _Invalid,
    _model,
    _number,
    _numbers,
    _Wrong,
)
from glmmteach.diagnostics import checks
from glmmteach.inference.interpret import marginal_probabilities
from glmmteach.inference.intervals import confint

__all__ = [
    "check_district_summary",
    "check_slope_lrt",
    "check_agq_sds",
    "check_urban_odds_ratio",
    "check_urban_probabilities",
    "check_district_residuals",
]


def _diagnose_nearest(value, expected, mistakes, **kwargs) -> None:
    """As ``_diagnose``, but when several mistakes are within tolerance (a variance near 1
    gives nearly the SD's answer), the one closest to ``value`` names the mistake."""
    if _close(value, expected, kwargs.get("rtol", 1e-3), kwargs.get("atol", 1e-4)):
        return
    ranked = sorted(mistakes, key=lambda mk: float(np.max(np.abs(np.asarray(value, float)
                                                               - np.asarray(mk[0], float)))))
    _diagnose(value, expected, ranked, **kwargs)


def _sd(m) -> float:
    return float(m.varcorr["sdcor"].iloc[0])


@_checker("the number of women and the share using contraception per district")
def check_district_summary(value, *, data) -> str:
    """A DataFrame indexed by district with columns ``n`` and ``share_using``."""
    data = _context(data, "the data")
    if not isinstance(value, pd.DataFrame):
        raise _Invalid(f"`districts` should be a pandas DataFrame with one row per district "
                       f"and columns 'n' and 'share_using', not a {type(value).__name__}")
    frame = value
    if "district" in frame.columns:
        frame = frame.set_index("district")
    missing = [c for c in ("n", "share_using") if c not in frame.columns]
    if missing:
        raise _Invalid(f"`districts` has no column {', '.join(repr(c) for c in missing)}; its "
                       f"columns are {list(value.columns)}")
    use = (data["use"].astype(str) == "Y").astype(float)
    grouped = use.groupby(data["district"])
    n = grouped.size()
    share = grouped.mean()
    if len(frame) != len(n):
        other = {"woman": "one row per woman", "urban": "one row per kind of area",
                 "livch": "one row per number of children"}
        for col, what in other.items():
            if len(frame) == data[col].nunique():
                raise _Wrong(f"`districts` has {len(frame)} rows, {what}: group by "
                             f"'district' instead of {col!r} ({len(n)} districts)")
        raise _Invalid(f"`districts` should have one row per district ({len(n)} rows); it "
                       f"has {len(frame)}")
    try:
        frame = frame.loc[n.index]
    except KeyError:
        raise _Invalid("the index of `districts` should be the district codes (group by "
                       "'district', or keep a 'district' column)") from None
    got_n = _numbers(frame["n"].to_numpy(), len(n), "the column 'n'")
    got = _numbers(frame["share_using"].to_numpy(), len(n), "the column 'share_using'")
    _diagnose(got_n, n.to_numpy(dtype=float), [
        (grouped.sum().to_numpy(), "'n' holds the number of women *using* contraception; it "
                                   "should count all women of the district (size)"),
    ], what="the column 'n'", rtol=0, atol=0.5,
        hint="Count the rows of each district: groupby('district').size().")
    _diagnose(got, share.to_numpy(), [
        (1 - share.to_numpy(), "'share_using' is the share *not* using contraception; use "
                               "use == 'Y'"),
        (100 * share.to_numpy(), "'share_using' is in percent; give a proportion (0 to 1)"),
        (grouped.sum().to_numpy(), "'share_using' holds counts of users; divide by the number "
                                   "of women of the district"),
    ], what="the column 'share_using'", rtol=0, atol=1e-9,
        hint="The mean of (use == 'Y') within each district.")
    none, every = int((share == 0).sum()), int((share == 1).sum())
    return (f"{len(n)} districts of {int(n.min())} to {int(n.max())} women (median "
            f"{n.median():.0f}); {none} districts where no woman uses contraception and "
            f"{every} where all do.")


@_checker("the p-value of the likelihood-ratio test for random slopes")
def check_slope_lrt(value, *, small, big) -> str:
    """p-value of the LRT of ``small`` (random intercept) against ``big`` (random slope)."""
    m0 = _model(_context(small, "the random-intercept model"), "the random-intercept model")
    m1 = _model(_context(big, "the random-slope model"), "the random-slope model")
    if isinstance(value, pd.DataFrame):
        raise _Invalid("this is the whole anova table; give its p-value, the number in the "
                       "column 'Pr(>Chisq)' of the second row")
    got = _number(value, "`lrt_p`")
    if not m1.n_params > m0.n_params:
        raise _Invalid("the model with random slopes should have more parameters than the "
                       "random-intercept one; check the formulas of m_int and m_slope")
    chisq = 2 * (m1.loglik - m0.loglik)
    df = m1.n_params - m0.n_params
    expected = float(stats.chi2.sf(chisq, df))
    mixture = 0.5 * float(stats.chi2.sf(chisq, df - 1)) + 0.5 * expected
    _diagnose(got, expected, [
        (mixture, None),  # the boundary-corrected mixture p-value is a right answer too
        (float(stats.chi2.sf(chisq, 1)), f"you used 1 degree of freedom; the slope model "
                                         f"adds {df} parameters (the slope SD and its "
                                         f"correlation with the intercept)"),
        (chisq, "this is the likelihood-ratio statistic; the task asks for its p-value, "
                "stats.chi2.sf(chisq, df)"),
        (1 - expected, "this is 1 - p: use the upper tail, stats.chi2.sf (not cdf)"),
        (float(stats.chi2.sf(chisq / 2, df)), "the statistic is twice the difference of the "
                                              "log-likelihoods; you left out the factor 2"),
        (m0.aic - m1.aic, "this is the difference of the AICs, not a p-value"),
    ], what="your p-value", rtol=1e-3, atol=0,
        hint="chisq = 2 * (m_slope.loglik - m_int.loglik), df = difference of n_params, "
             "p = stats.chi2.sf(chisq, df).")
    verdict = ("the random-slope model fits clearly better: districts differ in their "
               "urban-rural difference too" if expected < 0.05 else
               "no clear evidence that districts differ in their urban-rural difference")
    return (f"chi-square {chisq:.2f} on {df} df, p = {expected:.3g}: {verdict}. The test is "
            f"conservative, because a variance of 0 lies on the boundary (the mixture "
            f"p-value 0.5 P(chi2_{df - 1} > x) + 0.5 P(chi2_{df} > x) = {mixture:.3g}).")


@_checker("the district SD by the Laplace approximation and by adaptive quadrature")
def check_agq_sds(value, *, laplace, agq) -> str:
    """``(sd_laplace, sd_agq)`` of the random-intercept model."""
    m_l = _model(_context(laplace, "the Laplace fit"), "the Laplace fit")
    m_a = _model(_context(agq, "the quadrature fit"), "the quadrature fit")
    if m_l.nAGQ != 1:
        raise _Invalid(f"m_int was fitted with nAGQ={m_l.nAGQ}; fit it with the default "
                       f"(Laplace, nAGQ=1)")
    if m_a.nAGQ <= 1:
        raise _Invalid(f"m_agq was fitted with nAGQ={m_a.nAGQ}; adaptive quadrature needs "
                       f"nAGQ > 1, e.g. glmer(FORMULA_INT, contraception, nAGQ=9)")
    if len(m_a.varcorr) != 1 or len(m_l.varcorr) != 1:
        raise _Invalid("both fits should be of the random-intercept model FORMULA_INT")
    got = _numbers(value, 2, "`sds`")
    s_l, s_a = _sd(m_l), _sd(m_a)
    _diagnose(got, [s_l, s_a], [
        ([s_l**2, s_a**2], "these are variances; the SD is the square root (varcorr's "
                           "'sdcor' column)"),
        ([s_a, s_l], "the order is swapped: first the Laplace SD, then the quadrature SD"),
        ([s_l, s_l], "both numbers come from the Laplace fit; take the second from m_agq"),
        ([s_a, s_a], "both numbers come from the quadrature fit; take the first from m_int"),
        ([math.log(s_l), math.log(s_a)], "these are log SDs; give the SDs themselves"),
    ], what="your SDs", rtol=1e-4, atol=1e-6,
        hint="m_int.varcorr['sdcor'].iloc[0] and m_agq.varcorr['sdcor'].iloc[0].")
    rel = abs(s_a - s_l) / s_a
    return (f"{s_l:.4f} (Laplace) and {s_a:.4f} (nAGQ = {m_a.nAGQ}): {100 * rel:.1f} % apart. "
            f"With about 32 women per district and an SD near 0.5, each district's integrand "
            f"is nearly Gaussian, unlike the toenail patients of lesson 07.")


@_checker("the urban odds ratio with its profile-likelihood interval")
def check_urban_odds_ratio(value, *, model, term: str = "urbanY", level: float = 0.95,
                           other=None) -> str:
    """``(estimate, lower, upper)``: exp of the coefficient and of its profile interval."""
    m = _model(_context(model, "the fitted model"), "model")
    if isinstance(value, pd.DataFrame):
        raise _Invalid("give three numbers (estimate, lower, upper), not a table; pick the "
                       f"row {term!r}")
    got = _numbers(value, 3, "`urban_or` (estimate, lower, upper)")
    if term not in m.fixef.index:
        raise _Invalid(f"the model has no coefficient {term!r}; use FORMULA_INT")
    b = float(m.fixef[term])
    lo, hi = (float(v) for v in confint(m, parm=term, level=level).iloc[0, :2])
    wlo, whi = (float(v) for v in confint(m, parm=term, level=level, method="wald").iloc[0, :2])
    expected = np.exp([b, lo, hi])
    mistakes = [
        ([b, lo, hi], "these are on the log-odds scale; exponentiate all three numbers"),
        (np.exp([b, wlo, whi]), f"this is the Wald interval (estimate +- 1.96 SE); the task "
                                f"asks for the profile-likelihood interval, "
                                f"glmmteach.confint(m_int, parm={term!r})"),
        ([b, wlo, whi], "this is the Wald interval on the log-odds scale; the task asks for "
                        "the profile interval, exponentiated"),
        ([math.exp(b), lo, hi], "only the estimate is exponentiated; exponentiate the "
                                "interval limits too"),
    ]
    for lev in (0.90, 0.99):
        if not math.isclose(lev, level):
            llo, lhi = (float(v) for v in confint(m, parm=term, level=lev).iloc[0, :2])
            mistakes.append((np.exp([b, llo, lhi]), f"this is the {100 * lev:.0f}% interval; "
                                                    f"the task asks for {100 * level:.0f}%"))
    if other is not None:
        m2 = _model(_context(other, "the random-slope model"), "the random-slope model")
        if term in m2.fixef.index:
            b2 = float(m2.fixef[term])
            w2 = confint(m2, parm=term, level=level, method="wald").iloc[0, :2]
            mistakes.append((np.exp([b2, *w2]), "these numbers come from the random-slope "
                                                "model; the task asks for m_int"))
    try:
        _diagnose(got, expected, mistakes, what="your odds ratio and interval", rtol=0,
                  atol=np.maximum(6e-4, 3e-4 * np.abs(expected)),
                  hint=f"np.exp of m_int.fixef[{term!r}] and of "
                       f"glmmteach.confint(m_int, parm={term!r}).")
    except _Wrong:
        if other is not None and _close(got[0], math.exp(float(m2.fixef[term])), 0, 6e-4):
            raise _Wrong("the estimate comes from the random-slope model; the task asks for "
                         "m_int") from None
        raise
    return (f"odds ratio {expected[0]:.3f}, {100 * level:.0f}% profile interval "
            f"{expected[1]:.3f} to {expected[2]:.3f}: within a district, urban women have about "
            f"{expected[0]:.1f} times the odds of using contraception of otherwise similar "
            f"rural women.")


@_checker("conditional and marginal probabilities of use, rural and urban")
def check_urban_probabilities(value, *, model, newdata) -> str:
    """``{"conditional": [rural, urban], "marginal": [rural, urban]}`` for ``newdata``."""
    m = _model(_context(model, "the fitted model"), "model")
    newdata = _context(newdata, "NEWDATA")
    if isinstance(value, pd.DataFrame):
        value = {c: value[c].to_numpy() for c in value.columns}
    if not isinstance(value, dict):
        raise _Invalid(f"`probs` should be a dict with keys 'conditional' and 'marginal', "
                       f"each two numbers (rural, urban); not a {type(value).__name__}")
    missing = [k for k in ("conditional", "marginal") if k not in value]
    if missing:
        raise _Invalid(f"`probs` has no key {', '.join(repr(k) for k in missing)}; its keys "
                       f"are {list(value)}")
    got = np.r_[_numbers(value["conditional"], len(newdata), "probs['conditional']"),
                _numbers(value["marginal"], len(newdata), "probs['marginal']")]
    table = marginal_probabilities(m, newdata=newdata, gee=True)
    cond = table["conditional (u = 0)"].to_numpy()
    marg = table["marginal (GLMM)"].to_numpy()
    gee = table["GEE"].to_numpy()
    eta = simulate.logit(cond)
    sd = _sd(m)
    x, w = np.polynomial.hermite_e.hermegauss(64)
    w = w / w.sum()

    def average(s: float) -> np.ndarray:
        return (simulate.inv_logit(eta[:, None] + s * x[None, :]) * w).sum(axis=1)

    if np.all(got > 1) and _close(got / 100, np.r_[cond, marg], 0, 1.5e-3):
        raise _Wrong("these are percentages; give probabilities (0 to 1)")
    _diagnose_nearest(got, np.r_[cond, marg], [
        (np.r_[marg, cond], "the two are swapped: 'conditional' is the typical woman "
                            "(district effect 0), 'marginal' the average over districts"),
        (np.r_[eta, marg], "'conditional' holds log-odds; apply the inverse logit"),
        (np.r_[cond, average(sd**2)], "'marginal' used the variance as the SD of the district "
                                      "effects"),
        (np.r_[cond, gee], "'marginal' holds the GEE estimates; the task asks for the GLMM's "
                           "population average, interpret.marginal_probabilities(...)"
                           "['marginal (GLMM)']"),
        (np.r_[cond, cond], "both are the typical woman's probabilities; 'marginal' averages "
                            "inv_logit(eta + u) over u ~ N(0, sd)"),
    ], what="your probabilities", rtol=0, atol=1.5e-3,
        hint="interpret.marginal_probabilities(m_int, newdata=NEWDATA) has both columns.")
    return (f"typical woman: rural {cond[0]:.3f}, urban {cond[1]:.3f}; all women: rural "
            f"{marg[0]:.3f}, urban {marg[1]:.3f}. With a district SD of {sd:.2f} the two "
            f"differ by less than {np.max(np.abs(marg - cond)) + 0.0005:.3f}.")


@_checker("the uniformity test of the per-district scaled residuals")
def check_district_residuals(value, *, model, nsim: int, seed: int, other=None) -> str:
    """The KS p-value of ``scaled_residuals(model, nsim, seed, group="district")``."""
    m = _model(_context(model, "the fitted model"), "model")
    if isinstance(value, pd.DataFrame):
        raise _Invalid("this is the whole table of tests; give the p-value of the row "
                       "'uniformity (Kolmogorov-Smirnov)'")
    got = _number(value, "`ks_p`")
    per_district = checks.residual_tests(
        checks.scaled_residuals(m, nsim=nsim, seed=seed, group="district")).set_index("test")
    per_obs = checks.residual_tests(
        checks.scaled_residuals(m, nsim=nsim, seed=seed)).set_index("test")
    ks = "uniformity (Kolmogorov-Smirnov)"
    disp = "dispersion (simulation-based)"
    expected = float(per_district.loc[ks, "p_value"])
    mistakes = [
        (float(per_obs.loc[ks, "p_value"]), "these residuals are per woman; the task asks for "
                                            "one residual per district, group='district'"),
        (float(per_district.loc[ks, "statistic"]), "this is the KS statistic D; give its "
                                                   "p-value"),
        (float(per_district.loc[disp, "p_value"]), "this is the p-value of the dispersion "
                                                   "test; the task asks for the uniformity "
                                                   "(Kolmogorov-Smirnov) test"),
        (1 - expected, "this is 1 - p"),
    ]
    if other is not None:
        m2 = _model(_context(other, "the random-slope model"), "the random-slope model")
        p2 = checks.residual_tests(checks.scaled_residuals(
            m2, nsim=nsim, seed=seed, group="district")).set_index("test").loc[ks, "p_value"]
        mistakes.append((float(p2), "this is the test for the random-slope model; the task "
                                    "asks for m_int"))
    _diagnose(got, expected, mistakes, what="your p-value", rtol=1e-6, atol=1e-9,
              hint=f"checks.residual_tests(checks.scaled_residuals(m_int, nsim={nsim}, "
                   f"seed={seed}, group='district')); the same nsim and seed give the same "
                   f"residuals.")
    verdict = ("consistent with the model" if expected >= 0.05
               else "not uniform: the model misses something about the districts")
    return f"KS p = {expected:.3f}: the per-district residuals are {verdict}."
