"""Exercise 07's checkers: the right answer passes, and every known wrong answer gets its own
diagnosis and never "Correct".

The wrong answers are built here by hand from the models (the mistake a student makes: the
wrong scale, conditional for marginal, Wald for profile, a variance for an SD, the wrong
type), not taken from the checkers' own lists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import glmmteach
from glmmteach import checks, datasets, interpret
from glmmteach import exercises as ex

FORMULA_INT = "use ~ age + I(age^2) + urban + livch + (1 | district)"
FORMULA_SLOPE = "use ~ age + I(age^2) + urban + livch + (1 + urban | district)"
NEWDATA = pd.DataFrame({"urban": ["N", "Y"], "age": 0.0, "livch": "1"})
SEED = 1988


@pytest.fixture(scope="module")
def data():
    return datasets.contraception()


@pytest.fixture(scope="module")
def fits(data):
    return {"int": glmmteach.glmer(FORMULA_INT, data),
            "slope": glmmteach.glmer(FORMULA_SLOPE, data),
            "agq": glmmteach.glmer(FORMULA_INT, data, nAGQ=9)}


def _assert_diagnosed(feedback, *words, status="incorrect"):
    text = str(feedback)
    assert not feedback.passed, text
    assert not text.startswith("Correct"), text
    assert feedback.status == status, text
    for word in words:
        assert word.lower() in feedback.message.lower(), text


def _district_table(data):
    y = (data["use"] == "Y").astype(float)
    g = y.groupby(data["district"])
    return pd.DataFrame({"n": g.size(), "share_using": g.mean()})


# ----------------------------------------------------------------------------- task 1


def test_district_summary_right_and_wrong(data):
    good = _district_table(data)
    assert ex.check_district_summary(lambda: good, data=data).passed
    # a 'district' column instead of the index is fine too
    assert ex.check_district_summary(lambda: good.reset_index(), data=data).passed
    _assert_diagnosed(ex.check_district_summary(
        lambda: good.assign(share_using=1 - good["share_using"]), data=data), "not")
    _assert_diagnosed(ex.check_district_summary(
        lambda: good.assign(share_using=100 * good["share_using"]), data=data), "percent")
    n_users = (data["use"] == "Y").groupby(data["district"]).sum()
    _assert_diagnosed(ex.check_district_summary(
        lambda: good.assign(share_using=n_users.to_numpy()), data=data), "counts")
    _assert_diagnosed(ex.check_district_summary(
        lambda: good.assign(n=n_users.to_numpy()), data=data), "using")
    by_urban = data.assign(u=(data["use"] == "Y")).groupby("urban", observed=True).agg(
        n=("u", "size"), share_using=("u", "mean"))
    _assert_diagnosed(ex.check_district_summary(lambda: by_urban, data=data), "'district'")
    _assert_diagnosed(ex.check_district_summary(lambda: good["share_using"], data=data),
                      "DataFrame", status="invalid")
    _assert_diagnosed(ex.check_district_summary(lambda: good[["n"]], data=data),
                      "share_using", status="invalid")


# ----------------------------------------------------------------------------- task 2


def test_slope_lrt_right_and_wrong(fits):
    m0, m1 = fits["int"], fits["slope"]
    chisq = 2 * (m1.loglik - m0.loglik)
    assert m1.n_params - m0.n_params == 2
    p = stats.chi2.sf(chisq, 2)

    def check(value):
        return ex.check_slope_lrt(lambda: value, small=m0, big=m1)

    assert check(p).passed
    assert check(0.5 * stats.chi2.sf(chisq, 1) + 0.5 * p).passed  # boundary mixture: also right
    _assert_diagnosed(check(stats.chi2.sf(chisq, 1)), "1 degree of freedom")
    _assert_diagnosed(check(chisq), "statistic")
    _assert_diagnosed(check(stats.chi2.cdf(chisq, 2)), "1 - p")
    _assert_diagnosed(check(stats.chi2.sf(m1.loglik - m0.loglik, 2)), "factor 2")
    _assert_diagnosed(check(m0.aic - m1.aic), "AIC")
    _assert_diagnosed(check(glmmteach.anova(m0, m1)), "anova table", status="invalid")
    _assert_diagnosed(check("0.002"), "text", status="invalid")


# ----------------------------------------------------------------------------- task 3


def test_agq_sds_right_and_wrong(fits):
    s_l = float(fits["int"].varcorr["sdcor"].iloc[0])
    s_a = float(fits["agq"].varcorr["sdcor"].iloc[0])
    assert s_l != s_a

    def check(value, agq=fits["agq"]):
        return ex.check_agq_sds(lambda: value, laplace=fits["int"], agq=agq)

    assert check((s_l, s_a)).passed
    _assert_diagnosed(check((s_l**2, s_a**2)), "variances")
    _assert_diagnosed(check((s_a, s_l)), "swapped")
    _assert_diagnosed(check((s_l, s_l)), "Laplace fit")
    _assert_diagnosed(check((s_a, s_a)), "quadrature fit")
    _assert_diagnosed(check((s_l, s_a), agq=fits["int"]), "nAGQ", status="invalid")
    _assert_diagnosed(check(s_l), "2 numbers", status="invalid")


# ----------------------------------------------------------------------------- task 4


def test_urban_odds_ratio_right_and_wrong(fits):
    m = fits["int"]
    b = float(m.fixef["urbanY"])
    prof = glmmteach.confint(m, parm="urbanY").iloc[0, :2].to_numpy(dtype=float)
    se = float(m.bse["urbanY"])
    wald = np.array([b - 1.959964 * se, b + 1.959964 * se])
    prof90 = glmmteach.confint(m, parm="urbanY", level=0.90).iloc[0, :2].to_numpy(dtype=float)

    def check(value):
        return ex.check_urban_odds_ratio(lambda: value, model=m, other=fits["slope"])

    assert check(tuple(np.exp([b, *prof]))).passed
    _assert_diagnosed(check((b, *prof)), "log-odds")
    _assert_diagnosed(check(tuple(np.exp([b, *wald]))), "Wald")
    # on the log scale the Wald and profile limits of urbanY differ by < 4e-4: the scale is
    # the mistake to name
    _assert_diagnosed(check((b, *wald)), "log-odds")
    _assert_diagnosed(check((np.exp(b), *prof)), "limits too")
    _assert_diagnosed(check(tuple(np.exp([b, *prof90]))), "90%")
    b2, se2 = float(fits["slope"].fixef["urbanY"]), float(fits["slope"].bse["urbanY"])
    _assert_diagnosed(check(tuple(np.exp([b2, b2 - 1.959964 * se2, b2 + 1.959964 * se2]))),
                      "random-slope")
    _assert_diagnosed(check(interpret.odds_ratios(m)), "table", status="invalid")


# ----------------------------------------------------------------------------- task 5


def test_urban_probabilities_right_and_wrong(fits):
    m = fits["int"]
    sd = float(m.varcorr["sdcor"].iloc[0])
    X = np.column_stack([np.ones(2), np.zeros(2), np.zeros(2), [0.0, 1.0], np.ones(2),
                         np.zeros(2), np.zeros(2)])  # (Intercept) age age^2 urbanY livch1..3+
    eta = X @ m.fixef.to_numpy()
    cond = 1 / (1 + np.exp(-eta))
    # the population average by Monte Carlo, independent of the library's quadrature
    u = np.random.default_rng(3).standard_normal(400_000)

    def average(s):
        return np.array([np.mean(1 / (1 + np.exp(-(e + s * u)))) for e in eta])

    marg = average(sd)

    def check(c, mg):
        return ex.check_urban_probabilities(lambda: {"conditional": list(c), "marginal": list(mg)},
                                            model=m, newdata=NEWDATA)

    assert check(cond, marg).passed
    _assert_diagnosed(check(marg, cond), "swapped")
    _assert_diagnosed(check(eta, marg), "log-odds")
    _assert_diagnosed(check(cond, average(sd**2)), "variance")
    _assert_diagnosed(check(100 * cond, 100 * marg), "percentages")
    _assert_diagnosed(check(cond, cond), "typical")
    gee = interpret.marginal_probabilities(m, newdata=NEWDATA)["GEE"].to_numpy()
    _assert_diagnosed(check(cond, gee), "GEE")
    _assert_diagnosed(ex.check_urban_probabilities(lambda: [0.4, 0.6], model=m,
                                                   newdata=NEWDATA), "dict", status="invalid")


# ----------------------------------------------------------------------------- task 6


def test_district_residuals_right_and_wrong(fits):
    m = fits["int"]
    per_district = checks.residual_tests(
        checks.scaled_residuals(m, nsim=250, seed=SEED, group="district")).set_index("test")
    per_woman = checks.residual_tests(
        checks.scaled_residuals(m, nsim=250, seed=SEED)).set_index("test")
    ks = "uniformity (Kolmogorov-Smirnov)"

    def check(value):
        return ex.check_district_residuals(lambda: value, model=m, nsim=250, seed=SEED,
                                           other=fits["slope"])

    assert check(per_district.loc[ks, "p_value"]).passed
    _assert_diagnosed(check(per_woman.loc[ks, "p_value"]), "per woman")
    _assert_diagnosed(check(per_district.loc[ks, "statistic"]), "statistic")
    _assert_diagnosed(check(per_district.loc["dispersion (simulation-based)", "p_value"]),
                      "dispersion")
    _assert_diagnosed(check(1 - per_district.loc[ks, "p_value"]), "1 - p")
    _assert_diagnosed(check(per_district), "table", status="invalid")


# ----------------------------------------------------------------------------- unanswered


def test_unanswered_and_missing_models_are_not_attempted(fits, data):
    def undefined():
        return name_that_is_not_defined  # noqa: F821

    def stub():
        raise NotImplementedError("Task 1")

    for fb in [ex.check_district_summary(undefined, data=data),
               ex.check_slope_lrt(stub, small=fits["int"], big=fits["slope"]),
               ex.check_agq_sds(lambda: (0.4, 0.5), laplace=lambda: m_missing,  # noqa: F821
                                agq=fits["agq"]),
               ex.check_urban_odds_ratio(lambda: None, model=fits["int"])]:
        assert fb.status == "not attempted", str(fb)
