"""Interpretation helpers (``glmmteach.interpret``).

Reference numbers: the article's lme4 output (``../shared/reference/lme4-article-run.txt``:
``predict(m, re.form = NA, type = "response")``, ``exp(confint(m, parm = "trttreat"))``,
the observed proportions from ``aggregate``) and closed forms (the link-scale interval, the
probit marginal ``Phi(eta / sqrt(1 + v))``, GEE = observed proportions in a saturated design
with cluster-level predictors and equal cluster sizes).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from crosscheck_models import CASES_BY_NAME
from scipy import integrate, stats
from scipy.special import expit

import glmmteach
from glmmteach.inference.interpret import (
    cell_probabilities,
    fit_gee,
    marginal_probabilities,
    odds_ratios,
)

# lme4-article-run.txt
ARTICLE_PREDICT = [0.4235043, 0.8676050, 0.2803350, 0.5072137]  # female/control, f/treat, ...
ARTICLE_OBSERVED = [0.4242424242, 0.8659340659, 0.2820823245, 0.5071428571]
ARTICLE_TRT_OR = (7.023558, 11.44831)
ARTICLE_TRT_EXP = 8.920482  # exp(2.18835), lme4's rounded estimate
CELLS = [("control", "female"), ("treat", "female"), ("control", "male"), ("treat", "male")]


def _sig4(ours: float, ref: float) -> bool:
    unit = 10.0 ** (math.floor(math.log10(abs(ref))) - 3)
    return abs(ours - ref) <= 0.5 * unit


@pytest.fixture(scope="module")
def article():
    return glmmteach.glmer("y ~ trt * sex + (1|id)", glmmteach.datasets.vegetables())


def _case(name):
    c = CASES_BY_NAME[name]
    fam = glmmteach.binomial(link=c.link)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glmmteach.warnings.SingularFitWarning)
        return glmmteach.glmer(c.formula, c.make_data(), family=fam)


# --------------------------------------------------------------------------------------------
# Odds ratios
# --------------------------------------------------------------------------------------------


def test_odds_ratio_table(article):
    tab = odds_ratios(article)
    assert list(tab.index) == ["trttreat", "sexmale", "trttreat:sexmale"]
    assert list(tab.columns) == ["log-odds", "odds ratio", "2.5 %", "97.5 %"]
    assert tab.loc["trttreat", "odds ratio"] == pytest.approx(ARTICLE_TRT_EXP, rel=1e-4)
    assert _sig4(tab.loc["trttreat", "2.5 %"], ARTICLE_TRT_OR[0])
    assert _sig4(tab.loc["trttreat", "97.5 %"], ARTICLE_TRT_OR[1])
    np.testing.assert_allclose(tab["odds ratio"], np.exp(tab["log-odds"]))
    assert (tab["2.5 %"] < tab["odds ratio"]).all() and (tab["odds ratio"] < tab["97.5 %"]).all()


def test_odds_ratio_wald_closed_form(article):
    tab = odds_ratios(article, method="wald", level=0.9, include_intercept=True)
    assert tab.index[0] == "(Intercept)"
    z = stats.norm.ppf(0.95)
    b, se = article.fixef, article.bse
    np.testing.assert_allclose(tab["5 %"], np.exp(b - z * se), rtol=1e-12)
    np.testing.assert_allclose(tab["95 %"], np.exp(b + z * se), rtol=1e-12)


def test_odds_ratio_bad_input(article):
    with pytest.raises(ValueError, match="logit"):
        odds_ratios(_case("probit_link"))
    with pytest.raises(ValueError, match="method"):
        odds_ratios(article, method="boot")
    with pytest.raises(ValueError, match="level"):
        odds_ratios(article, level=1.2)


# --------------------------------------------------------------------------------------------
# Cell probabilities
# --------------------------------------------------------------------------------------------


def test_cell_probabilities_match_lme4_predict(article):
    tab = cell_probabilities(article)
    assert list(zip(tab.trt, tab.sex)) == CELLS  # R's order: first variable fastest
    np.testing.assert_allclose(tab.probability, ARTICLE_PREDICT, atol=1e-5)
    np.testing.assert_allclose(tab.observed, ARTICLE_OBSERVED, atol=1e-9)
    assert tab["n rows"].sum() == article.nobs


def test_cell_probability_interval_closed_form(article):
    tab = cell_probabilities(article, level=0.9)
    X = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]], dtype=float)
    eta = X @ article.fixef.to_numpy()
    se = np.sqrt(np.diag(X @ article.vcov.to_numpy() @ X.T))
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(tab["link"], eta, rtol=1e-12)
    np.testing.assert_allclose(tab["5 %"], expit(eta - z * se), rtol=1e-12)
    np.testing.assert_allclose(tab["95 %"], expit(eta + z * se), rtol=1e-12)


def test_cell_probabilities_newdata(article):
    nd = pd.DataFrame({"trt": ["treat"], "sex": ["female"]})
    tab = cell_probabilities(article, newdata=nd)
    assert tab.probability.iloc[0] == pytest.approx(ARTICLE_PREDICT[1], abs=1e-5)
    assert "observed" not in tab


def test_numeric_predictor_needs_newdata():
    m = _case("cbind_counts")
    with pytest.raises(ValueError, match="newdata"):
        cell_probabilities(m)
    tab = cell_probabilities(m, newdata=pd.DataFrame({"x": [0.0, 1.0]}))
    np.testing.assert_allclose(tab.probability, expit(m.fixef["(Intercept)"] + m.fixef["x"] *
                                                      np.array([0.0, 1.0])))


# --------------------------------------------------------------------------------------------
# Marginal probabilities and GEE
# --------------------------------------------------------------------------------------------


def test_marginal_logit_matches_numerical_integral(article):
    tab = marginal_probabilities(article, gee=False)
    sd = float(article.varcorr.sdcor.iloc[0])
    for eta, marg, cond in zip(cell_probabilities(article)["link"], tab["marginal (GLMM)"],
                               tab["conditional (u = 0)"]):
        ref = integrate.quad(lambda t, e=eta: expit(e + sd * t) * stats.norm.pdf(t),
                             -np.inf, np.inf, epsabs=1e-13)[0]
        assert marg == pytest.approx(ref, abs=1e-10)
        assert cond == pytest.approx(expit(eta), rel=1e-12)
        # averaging over subjects pulls the probability towards 1/2
        assert abs(marg - 0.5) < abs(cond - 0.5)


def test_marginal_probit_closed_form():
    m = _case("probit_link")
    nd = pd.DataFrame({"x": [-1.5, 0.0, 2.0]})
    tab = marginal_probabilities(m, newdata=nd, gee=False)
    eta = m.fixef["(Intercept)"] + m.fixef["x"] * nd.x.to_numpy()
    v = float(m.varcorr.vcov.iloc[0])
    np.testing.assert_allclose(tab["marginal (GLMM)"], stats.norm.cdf(eta / np.sqrt(1 + v)),
                               rtol=1e-10)


def test_marginal_random_slopes_variance():
    """For (1 + x | g) the random part at x has variance s0^2 + 2 rho s0 s1 x + s1^2 x^2."""
    m = _case("correlated_slopes")
    nd = pd.DataFrame({"x": [-1.0, 0.5, 2.0]})
    tab = marginal_probabilities(m, newdata=nd, gee=False)
    vc = m.varcorr
    s0, s1, rho = vc.sdcor.to_numpy()
    x = nd.x.to_numpy()
    sd = np.sqrt(s0**2 + 2 * rho * s0 * s1 * x + s1**2 * x**2)
    np.testing.assert_allclose(tab["random-effect SD"], sd, rtol=1e-10)
    eta = m.fixef["(Intercept)"] + m.fixef["x"] * x
    for e, s, marg in zip(eta, sd, tab["marginal (GLMM)"]):
        ref = integrate.quad(lambda t, e=e, s=s: expit(e + s * t) * stats.norm.pdf(t),
                             -np.inf, np.inf, epsabs=1e-13)[0]
        assert marg == pytest.approx(ref, abs=1e-9)


def test_gee_equals_observed_in_saturated_balanced_design(article):
    """trt and sex are constant within a child and every child has 14 days, so the GEE
    estimating equations of the saturated model are solved by the observed proportions."""
    tab = marginal_probabilities(article)
    np.testing.assert_allclose(tab["GEE"], ARTICLE_OBSERVED, atol=1e-6)
    res = fit_gee(article)
    assert list(res.params.index) == list(article.fixef.index)


def test_gee_on_counts_expands_trials():
    m = _case("cbind_counts")
    res = fit_gee(m)
    d = m.design
    assert res.model.endog.size == int(d.trials.sum())
    assert res.model.endog.sum() == pytest.approx(float((d.y * d.trials).sum()))


def test_marginal_bad_input(article):
    with pytest.raises(ValueError, match="n_nodes"):
        marginal_probabilities(article, n_nodes=0)
    with pytest.raises(TypeError, match="newdata"):
        marginal_probabilities(article, newdata=[1, 2])


# --------------------------------------------------------------------------------------------
# Default cells need one offset and one random-effect variance per cell
# --------------------------------------------------------------------------------------------


def _exposure_data() -> pd.DataFrame:
    """30 children x 8 days; trt constant within a child, a per-row exposure and covariate."""
    rng = np.random.default_rng(7)
    ids = np.repeat(np.arange(30), 8)
    trt = np.where(ids % 2 == 0, "control", "treat")
    expo = rng.uniform(0.5, 3.0, size=len(ids))
    x = rng.normal(size=len(ids))
    b0, b1 = rng.normal(0.0, 0.7, 30), rng.normal(0.0, 0.5, 30)
    eta = -1.0 + 0.8 * (trt == "treat") + np.log(expo) + b0[ids] + b1[ids] * x
    return pd.DataFrame({"y": rng.binomial(1, expit(eta)), "trt": trt, "expo": expo, "x": x,
                         "id": ids})


def test_offset_varying_within_cells_needs_newdata():
    d = _exposure_data()
    m = glmmteach.glmer("y ~ trt + offset(log(expo)) + (1|id)", d)
    for f in (cell_probabilities, marginal_probabilities):
        with pytest.raises(ValueError, match=r"offset\(log\(expo\)\).*newdata=.*'expo'"):
            f(m)
    nd = pd.DataFrame({"trt": ["control", "treat"], "expo": [1.0, 2.0]})
    tab = cell_probabilities(m, newdata=nd)
    eta = m.fixef["(Intercept)"] + m.fixef["trttreat"] * np.array([0, 1]) + np.log([1.0, 2.0])
    np.testing.assert_allclose(tab.probability, expit(eta), rtol=1e-12)
    marg = marginal_probabilities(m, newdata=nd, gee=False)
    np.testing.assert_allclose(marg["conditional (u = 0)"], expit(eta), rtol=1e-12)


def test_offset_constant_within_cells_is_used():
    """An offset that is a function of the cell (here of trt) gives one prediction per cell."""
    d = _exposure_data()
    d["expo"] = np.where(d.trt == "treat", 2.0, 0.5)
    m = glmmteach.glmer("y ~ trt + offset(log(expo)) + (1|id)", d)
    tab = cell_probabilities(m)
    eta = m.fixef["(Intercept)"] + m.fixef["trttreat"] * np.array([0, 1]) + np.log([0.5, 2.0])
    np.testing.assert_allclose(tab["link"], eta, rtol=1e-12)
    marg = marginal_probabilities(m, gee=False)
    np.testing.assert_allclose(marg["conditional (u = 0)"], expit(eta), rtol=1e-12)


def test_random_slope_outside_fixed_part_needs_newdata():
    d = _exposure_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glmmteach.warnings.SingularFitWarning)
        m = glmmteach.glmer("y ~ trt + (1 + x|id)", d)
    cell_probabilities(m)  # conditional on u = 0: the random part does not enter
    with pytest.raises(ValueError, match=r"\(1 \+ x \| id\).*newdata=.*'x'"):
        marginal_probabilities(m)
    nd = pd.DataFrame({"trt": ["control", "treat"], "x": [0.0, 1.5]})
    tab = marginal_probabilities(m, newdata=nd, gee=False)
    s0, s1, rho = m.varcorr.sdcor.to_numpy()
    xv = nd.x.to_numpy()
    np.testing.assert_allclose(tab["random-effect SD"],
                               np.sqrt(s0**2 + 2 * rho * s0 * s1 * xv + s1**2 * xv**2),
                               rtol=1e-10)


def test_random_slope_on_cell_variable_is_constant_within_cells():
    """(1 + trt | id): the random-effect covariates are the cell's own, so no newdata is
    needed, and the variance is v0 + 2 c01 z + v1 z for z = 1 in the treated cells."""
    d = glmmteach.datasets.vegetables()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glmmteach.warnings.GlmmteachWarning)
        m = glmmteach.glmer("y ~ trt * sex + (1 + trt | id)", d)
    tab = marginal_probabilities(m, gee=False)
    v0, v1, c01 = m.varcorr.vcov.to_numpy()
    z = (tab.trt == "treat").to_numpy(dtype=float)
    np.testing.assert_allclose(tab["random-effect SD"], np.sqrt(v0 + 2 * c01 * z + v1 * z),
                               rtol=1e-10)


# --------------------------------------------------------------------------------------------
# GEE clusters
# --------------------------------------------------------------------------------------------


def test_gee_clusters_on_outermost_nested_factor():
    """(1|a/b) lists b:a first (more levels); GEE must cluster on the schools a."""
    for name in ("nested_slash", "nested_colon"):
        m = _case(name)
        assert m.design.terms[0].group in ("b:a", "a:b")
        res = fit_gee(m)
        assert res.model.cluster_factor == "a"
        assert len(res.model.group_labels) == m.data["a"].nunique() == 20


def test_gee_crossed_uses_first_factor():
    m = _case("crossed")
    res = fit_gee(m)
    first = m.design.terms[0]
    assert res.model.cluster_factor == first.group
    assert len(res.model.group_labels) == first.n_levels
