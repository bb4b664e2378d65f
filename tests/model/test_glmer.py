"""End-to-end tests of glmer and the fitted model on the article's data and on bad input.

Reference numbers are lme4's (R 4.2.2, lme4 1.1-31) as printed in
../shared/reference/lme4-article-run.txt, or closed forms. glmmteach reaches the exact Laplace
optimum; lme4's default PIRLS tolerance (tolPwrss = 1e-7) leaves its optimum short by about
1e-5 in the estimates (lme4 with tolPwrss = 1e-12 agrees with glmmteach to 1e-6). Hence the
tolerances below: the article's printed digits, +-2 in the last digit for estimates, +-4 for
standard errors (lme4's Hessian is a finite difference of its inexact deviance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import glmmteach as gt
from glmmteach.warnings import SingularFitWarning

# lme4 1.1-31 on the article's data (lme4-article-run.txt)
LME4_FIXEF = {"(Intercept)": -0.308404416206, "trttreat": 2.188350756409,
              "sexmale": -0.634396116003, "trttreat:sexmale": -1.216693331258}
LME4_SE = {"(Intercept)": 0.0712657700534, "trttreat": 0.1242298473239,
           "sexmale": 0.1085864854823, "trttreat:sexmale": 0.1655509072715}
LME4_LOGLIK = -2061.22372391
LME4_THETA = 0.198596401699


@pytest.fixture(scope="module")
def veg():
    return gt.datasets.vegetables()


@pytest.fixture(scope="module")
def m(veg):
    return gt.glmer("y ~ trt * sex + (1|id)", veg)


@pytest.fixture(scope="module")
def m2(veg):
    return gt.glmer("y ~ trt + sex + (1|id)", veg)


def test_article_model_matches_lme4(m):
    for name, value in LME4_FIXEF.items():
        assert m.fixef[name] == pytest.approx(value, abs=3e-5), name
    for name, value in LME4_SE.items():
        assert m.bse[name] == pytest.approx(value, rel=5e-4), name
    assert m.theta[0] == pytest.approx(LME4_THETA, abs=1e-5)
    # never worse than lme4's optimum (here better, by about 7e-6)
    assert m.loglik >= LME4_LOGLIK - 1e-6
    assert m.loglik == pytest.approx(LME4_LOGLIK, abs=1e-4)
    assert (m.nobs, m.df_resid, m.n_params) == (3500, 3495, 5)


def test_article_summary_shows_the_printed_numbers(m):
    text = str(m.summary())
    for piece in ["4132.4", "4163.3", "-2061.2", "4122.4", "3495",
                  "-2.6008 -0.8434  0.3774  0.9704  1.6878",
                  "id     (Intercept) 0.03944  0.1986",
                  "Number of obs: 3500, groups:  id, 250",
                  "(Intercept)      -0.30840    0.0712", "sexmale          -0.63440    0.1086",
                  "Family: binomial  ( logit )", "Formula: y ~ trt * sex + (1 | id)",
                  "< 2e-16 ***", "Signif. codes"]:
        assert piece in text, piece
    assert "<table>" in m.summary()._repr_html_()


def test_summary_information_criteria_are_consistent(m):
    k, n = 5, 3500
    assert m.aic == pytest.approx(-2 * m.loglik + 2 * k)
    assert m.bic == pytest.approx(-2 * m.loglik + k * np.log(n))
    assert m.deviance == pytest.approx(-2 * m.loglik)


def test_population_predictions_match_lme4(m):
    nd = pd.DataFrame({"sex": ["female", "female", "male", "male"],
                       "trt": ["control", "treat", "control", "treat"]})
    p = m.predict(nd, re_form="~0", type="response")
    np.testing.assert_allclose(p, [0.4235043, 0.8676050, 0.2803350, 0.5072137], atol=3e-6)
    # the same by hand: inverse logit of sums of coefficients
    b = m.fixef
    by_hand = special.expit([b.iloc[0], b.iloc[0] + b.iloc[1], b.iloc[0] + b.iloc[2], b.sum()])
    np.testing.assert_allclose(p, by_hand, rtol=1e-12)
    np.testing.assert_allclose(m.predict(nd, re_form="NA"), special.logit(p), rtol=1e-10)


def test_conditional_predictions_add_the_random_effect(m, veg):
    re = m.ranef()["id"]
    pop = m.predict(re_form="~0")
    cond = m.predict()
    np.testing.assert_allclose(cond - pop, re.loc[veg["id"], "(Intercept)"].to_numpy())
    new = pd.DataFrame({"trt": ["treat"], "sex": ["male"], "id": [9999]})
    with pytest.raises(ValueError, match="allow_new_levels"):
        m.predict(new)
    assert m.predict(new, allow_new_levels=True).iloc[0] == pytest.approx(
        m.predict(new, re_form="~0").iloc[0])


def test_no_interaction_model_and_anova_match_lme4(m, m2):
    # lme4 stops short on this model (its deviance 4173.3502 vs the optimum 4173.3497):
    # we must be at least as good and agree to lme4's precision.
    assert m2.loglik >= -2086.6751160 - 1e-6
    np.testing.assert_allclose(m2.fixef, [-0.07157, 1.58034, -1.21443], atol=2e-4)
    np.testing.assert_allclose(m2.bse, [0.07113, 0.09046, 0.08985], rtol=3e-3)
    assert m2.varcorr.vcov.iloc[0] == pytest.approx(0.1205, abs=2e-4)
    tab = gt.anova(m2, m)
    assert list(tab.columns) == ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df",
                                 "Pr(>Chisq)"]
    assert list(tab.npar) == [4, 5]
    assert tab.Chisq.iloc[1] == pytest.approx(50.903, abs=2e-3)
    assert tab["Pr(>Chisq)"].iloc[1] == pytest.approx(9.706e-13, rel=2e-3)
    assert tab["Df"].iloc[1] == 1


def test_varcorr_layout(m):
    vc = m.varcorr
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert vc.grp.tolist() == ["id"] and vc.var1.tolist() == ["(Intercept)"]
    assert vc.sdcor.iloc[0] == pytest.approx(np.sqrt(vc.vcov.iloc[0]))
    assert vc.sdcor.iloc[0] == pytest.approx(0.1986, abs=5e-5)


def test_ranef_and_residuals(m, veg):
    re = m.ranef()["id"]
    assert re.shape == (250, 1)
    assert re.attrs["condvar"].shape == (250, 1, 1)
    long = m.ranef(as_frame=True)
    assert list(long.columns) == ["grpvar", "term", "grp", "condval", "condsd"]
    y = veg["y"].to_numpy()
    mu = m.fitted.to_numpy()
    np.testing.assert_allclose(m.residuals("response"), y - mu)
    np.testing.assert_allclose(m.residuals("pearson"), (y - mu) / np.sqrt(mu * (1 - mu)))
    dev = m.residuals("deviance").to_numpy()
    np.testing.assert_allclose(dev**2, -2 * (y * np.log(mu) + (1 - y) * np.log(1 - mu)))
    with pytest.raises(ValueError, match="residual type"):
        m.residuals("studentized")


def test_simulate_is_reproducible_and_calibrated(m):
    s1 = m.simulate(50, seed=1)
    s2 = m.simulate(50, seed=1)
    pd.testing.assert_frame_equal(s1, s2)
    assert s1.shape == (3500, 50) and set(np.unique(s1)) <= {0, 1}
    # the mean of many simulations is close to the marginal mean of the model
    big = m.simulate(400, seed=2).to_numpy().mean()
    assert big == pytest.approx(m.data["y"].mean(), abs=0.01)
    assert not s1.equals(m.simulate(50, seed=3))
    with pytest.raises(ValueError, match="nsim"):
        m.simulate(0)


def test_refit_recovers_the_same_fit_and_new_data(m, veg):
    same = m.refit(veg["y"])
    np.testing.assert_allclose(same.fixef, m.fixef, atol=1e-6)
    sim = m.simulate(1, seed=5)["sim_1"]
    new = m.refit(sim, compute_se=False)
    direct = gt.glmer("y ~ trt * sex + (1|id)", veg.assign(y=sim.to_numpy()))
    np.testing.assert_allclose(new.fixef, direct.fixef, atol=1e-5)
    with pytest.raises(ValueError, match="rows"):
        m.refit([0, 1])


def test_binary_forms_give_the_same_fit(veg):
    base = gt.glmer("y ~ trt + (1|id)", veg)
    as_bool = gt.glmer("yb ~ trt + (1|id)", veg.assign(yb=veg.y == 1))
    as_str = gt.glmer("ys ~ trt + (1|id)", veg.assign(ys=np.where(veg.y == 1, "yes", "no")))
    for other in (as_bool, as_str):
        np.testing.assert_allclose(other.fixef, base.fixef, rtol=1e-8)
        assert other.loglik == pytest.approx(base.loglik, rel=1e-12)


def test_cbind_and_weights_give_the_same_fit_and_loglik(veg):
    agg = veg.groupby(["id", "trt", "sex"], observed=True).y.agg(["sum", "count"]).reset_index()
    agg["fail"] = agg["count"] - agg["sum"]
    agg["prop"] = agg["sum"] / agg["count"]
    a = gt.glmer("cbind(sum, fail) ~ trt * sex + (1|id2)", agg.assign(id2=agg.index % 50))
    b = gt.glmer("prop ~ trt * sex + (1|id2)", agg.assign(id2=agg.index % 50), weights="count")
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-8)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    # the binomial coefficients are part of logLik, as in lme4
    n, k = agg["count"].to_numpy(), agg["sum"].to_numpy()
    assert np.sum(special.gammaln(n + 1) - special.gammaln(k + 1)
                  - special.gammaln(n - k + 1)) > 0


def test_singular_fit_estimates_exactly_zero_and_warns():
    # every group has exactly 2 successes in 4 trials: less between-group variation than
    # binomial sampling alone would give, so the maximum likelihood variance is 0
    n_groups, per = 30, 4
    g = np.repeat(np.arange(n_groups), per)
    y = np.tile([1, 0, 0, 1], n_groups)
    x = np.tile([0.3, -0.2, 0.1, 0.4], n_groups) + np.repeat(np.linspace(-1, 1, n_groups), per)
    with pytest.warns(SingularFitWarning, match="singular"):
        fit = gt.glmer("y ~ x + (1|g)", pd.DataFrame({"y": y, "x": x, "g": g}))
    assert fit.theta[0] == 0.0
    assert fit.is_singular
    assert np.all(np.isfinite(fit.bse))


def test_nagq_quadrature_is_close_to_laplace_and_needs_a_scalar_term(veg):
    lap = gt.glmer("y ~ trt * sex + (1|id)", veg)
    agq = gt.glmer("y ~ trt * sex + (1|id)", veg, nAGQ=9)
    assert agq.nAGQ == 9
    np.testing.assert_allclose(agq.fixef, lap.fixef, atol=2e-3)
    assert "Adaptive Gauss-Hermite Quadrature, nAGQ = 9" in str(agq.summary())
    with pytest.raises(ValueError, match="single scalar"):
        gt.glmer("y ~ trt + (1 + day|id)", veg, nAGQ=5)
    with pytest.raises(ValueError, match="single scalar"):
        gt.glmer("y ~ trt + (1|id) + (1|day)", veg, nAGQ=5)
    zero = gt.glmer("y ~ trt * sex + (1|id)", veg, nAGQ=0)
    # lme4 1.1-31, glmer(..., nAGQ = 0) on the same data
    np.testing.assert_allclose(zero.fixef, [-0.305741104134, 2.172106276929, -0.629262208812,
                                            -1.208499120385], atol=2e-4)
    assert zero.theta[0] == pytest.approx(0.196485783863, rel=2e-3)
    assert zero.loglik >= -2061.24033763 - 1e-4
    np.testing.assert_allclose(zero.bse, [0.0708586329932, 0.1227724107812, 0.1079725394619,
                                          0.1646852200462], rtol=2e-3)


@pytest.mark.parametrize("kwargs,match", [
    ({"nAGQ": -1}, "nAGQ"),
    ({"nAGQ": 1.5}, "nAGQ"),
    ({"family": "poisson"}, "binomial"),
    ({"family": gt.binomial}, "family"),
])
def test_bad_arguments(veg, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        gt.glmer("y ~ trt + (1|id)", veg, **kwargs)


@pytest.mark.parametrize("formula,edit,match", [
    ("y ~ trt + (1|id)", lambda d: d.assign(y=d.y * 2), "y"),
    ("y ~ trt", lambda d: d, "statsmodels"),
    ("y ~ trtt + (1|id)", lambda d: d, "trtt"),
    ("y ~ trt + (1|one)", lambda d: d.assign(one=1), "one"),
    ("y ~ trt + (1|row)", lambda d: d.assign(row=np.arange(len(d))), "row"),
    ("y ~ x + (1|id)", lambda d: d.assign(x=np.where(d.day == 3, np.inf, 1.0)), "x"),
    ("y ~ trt + (1|id)", lambda d: d.assign(y=0), "y"),
    ("y ~ trt + (1|id)", lambda d: d.assign(y=1), "y"),
    ("cbind(s, f) ~ trt + (1|id)", lambda d: d.assign(s=3, f=-1), "f"),
])
def test_bad_input_is_explained(veg, formula, edit, match):
    with pytest.raises(ValueError, match=match):
        gt.glmer(formula, edit(veg.copy()))


def test_bad_weights_are_explained(veg):
    d = veg.assign(p=veg.y * 1.0)
    with pytest.raises(ValueError, match="weights"):
        gt.glmer("p ~ trt + (1|id)", d, weights=-np.ones(len(d)))
    with pytest.raises(ValueError, match="weights"):
        gt.glmer("p ~ trt + (1|id)", d, weights=np.full(len(d), np.inf))


def test_optimizer_leaves_a_wrong_zero_variance_basin():
    """Three correlated random slopes on little data: a local optimum has a variance at 0.

    lme4 1.1-31 reaches logLik -270.7836938 on these data (with a convergence warning);
    glmmteach must not stop in the worse boundary optimum (logLik about -271.17).
    """
    rng = np.random.default_rng(7)
    G, per, trials = 15, 12, 6
    g = np.repeat(np.arange(G), per)
    x, x2 = rng.normal(size=G * per), rng.normal(size=G * per)
    sd = np.array([1, 0.6, 0.5])
    C = np.eye(3)
    C[0, 1] = C[1, 0] = 0.95
    b = rng.multivariate_normal(np.zeros(3), np.outer(sd, sd) * C, size=G)
    eta = -0.2 + 0.5 * x - 0.3 * x2 + b[g, 0] + b[g, 1] * x + b[g, 2] * x2
    s = rng.binomial(trials, special.expit(eta))
    d = pd.DataFrame({"s": s, "f": trials - s, "x": x, "x2": x2, "g": g})
    with pytest.warns(SingularFitWarning):
        fit = gt.glmer("cbind(s, f) ~ x + x2 + (1 + x + x2 | g)", d)
    assert fit.loglik >= -270.7836938 - 1e-4


def test_re_form_selects_terms_not_just_grouping_factors():
    """lme4 semantics: re_form = ~(1|g) keeps the intercept term of g, not its slope term."""
    rng = np.random.default_rng(3)
    n_g, per = 40, 15
    g = np.repeat(np.arange(n_g), per)
    a = rng.integers(0, 8, g.size)
    x = rng.normal(size=g.size)
    eta = (0.2 + 0.5 * x + rng.normal(0, 0.8, n_g)[g] + rng.normal(0, 0.6, n_g)[g] * x
           + rng.normal(0, 0.5, 8)[a])
    d = pd.DataFrame({"y": rng.binomial(1, special.expit(eta)), "x": x, "g": g, "a": a})
    fit = gt.glmer("y ~ x + (1 + x || g) + (1|a)", d)
    re_g = fit.ranef()["g"].loc[d["g"]]
    expected = fit.predict(re_form="~0").to_numpy() + re_g["(Intercept)"].to_numpy()
    np.testing.assert_allclose(fit.predict(re_form="~(1|g)"), expected, rtol=1e-12)
    slope = expected + re_g["x"].to_numpy() * d["x"].to_numpy()
    np.testing.assert_allclose(fit.predict(re_form="~(1 + x||g)"), slope, rtol=1e-12)
    with pytest.raises(ValueError, match="not a random-effect term"):
        fit.predict(re_form="~(1|zz)")


def test_nested_re_form_is_expanded_like_the_formula():
    rng = np.random.default_rng(4)
    a = np.repeat(np.arange(12), 30)
    b = np.tile(np.repeat(np.arange(3), 10), 12)
    eta = rng.normal(0, 0.7, 12)[a] + rng.normal(0, 0.5, 36)[a * 3 + b]
    d = pd.DataFrame({"y": rng.binomial(1, special.expit(eta)), "a": a, "b": b})
    fit = gt.glmer("y ~ 1 + (1|a/b)", d)
    np.testing.assert_allclose(fit.predict(re_form="~(1|a/b)"), fit.predict(), rtol=1e-12)
    np.testing.assert_allclose(fit.predict(re_form="~(1|a) + (1|a:b)"), fit.predict(),
                               rtol=1e-12)
    only_a = fit.predict(re_form="~(1|a)").to_numpy()
    expected = fit.fixef.iloc[0] + fit.ranef()["a"].loc[d["a"], "(Intercept)"].to_numpy()
    np.testing.assert_allclose(only_a, expected, rtol=1e-12)


def test_singular_warning_is_shown_for_every_fit_that_causes_it():
    n_groups, per = 30, 4
    g = np.repeat(np.arange(n_groups), per)
    d = pd.DataFrame({"y": np.tile([1, 0, 0, 1], n_groups), "g": g})
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's default: once per calling line
        gt.glmer("y ~ 1 + (1|g)", d)  # e.g. one notebook cell
        gt.glmer("y ~ 1 + (1|g)", d)  # and another
    singular = [w for w in caught if issubclass(w.category, SingularFitWarning)]
    assert len(singular) == 2
    assert all(w.filename == __file__ for w in singular)


def test_separation_is_reported_and_the_fit_is_not_called_converged():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(20), 10)
    trt = np.tile(["A", "B"], 100)
    y = np.where(trt == "B", 1, rng.binomial(1, 0.4, 200))  # every B is a success
    d = pd.DataFrame({"y": y, "trt": trt, "g": g})
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = gt.glmer("y ~ trt + (1|g)", d)
    from glmmteach.warnings import SeparationWarning

    assert any(issubclass(w.category, SeparationWarning) for w in caught)
    assert any("separated" in msg for msg in fit.optimizer_messages)
    assert "Note: a fixed effect is very large" in str(fit.summary())
