"""glmer's lme4 arguments: ``start=``, ``offset=``, ``control=`` and the cauchit link.

Agreement with lme4 on these arguments is in ``test_lme4_crosscheck.py`` (cases
``cauchit_link``, ``offset_argument``, ``start_values``, ``control_bobyqa``). Here: the bad-input
errors (raised before any numerical work), the behaviour of each control option, the restarts
after a failed convergence check, and the cauchit link's closed forms.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from crosscheck_models import correlated_slopes_data, offset_data, singular_data

import glmmteach
from glmmteach import ConvergenceError, GlmerControl, binomial, glmer, glmer_control
from glmmteach.model.fit import GlmerModel
from glmmteach.warnings import ConvergenceWarning, SingularFitWarning

SLOPES = "cbind(s, f) ~ x + (1 + x | g)"


@pytest.fixture
def no_fitting(monkeypatch):
    """Make any numerical work fail loudly: bad input must be caught before it."""

    def boom(*args, **kwargs):
        raise AssertionError("numerical work started before the input was checked")

    monkeypatch.setattr(GlmerModel, "_fit", boom)
    monkeypatch.setattr(GlmerModel, "laplace_deviance", boom)


# ------------------------------------------------------------------------------ control
def test_glmer_control_returns_validated_dataclass():
    c = glmer_control("bobyqa", tol_pwrss=1e-12, opt_ctrl={"maxfun": 500})
    assert isinstance(c, GlmerControl)
    assert c.optimizer == "COBYQA" and c.maxfev == 500 and c.tol_pwrss == 1e-12
    assert glmer_control(("Nelder_Mead", "L-BFGS-B")).theta_optimizer == "Nelder-Mead"
    with pytest.raises(AttributeError):
        c.maxiter = 3  # frozen


@pytest.mark.parametrize(
    "control, match",
    [
        ({"tolPwrs": 1e-10}, r"'tolPwrs'.*did you mean 'tolPwrss'"),
        ({"maxitr": 10}, r"'maxitr'.*did you mean 'maxiter'"),
        ({"optimizer": "bobyqaa"}, r"optimizer='bobyqaa'.*did you mean 'COBYQA'|bobyqaa"),
        ({"check_conv_grad": "warn"}, r"check_conv_grad='warn'.*did you mean 'warning'"),
        ({"opt_ctrl": {"maxfunn": 3}}, r"opt_ctrl key 'maxfunn'"),
        ({"maxiter": 0}, r"maxiter must be a whole number > 0"),
        ({"gtol": -1.0}, r"gtol must be a number > 0"),
        ({"tol_pwrss": 2.0}, r"tol_pwrss must be < 1"),
    ],
)
def test_bad_control_is_named_before_fitting(control, match, no_fitting):
    with pytest.raises(ValueError, match=match):
        glmer(SLOPES, correlated_slopes_data(), control=control)


def test_control_must_be_a_dict_or_glmer_control(no_fitting):
    with pytest.raises(TypeError, match="glmer_control"):
        glmer(SLOPES, correlated_slopes_data(), control="bobyqa")


def test_singular_check_can_be_silenced_or_made_an_error():
    d = singular_data()
    with pytest.warns(SingularFitWarning):
        glmer("y ~ x + (1 | g)", d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = glmer("y ~ x + (1 | g)", d, control={"check.conv.singular": "ignore"})
    assert m.is_singular
    with pytest.raises(ConvergenceError, match="singular"):
        glmer("y ~ x + (1 | g)", d, control=glmer_control(check_conv_singular="stop"))


def test_gradient_check_action_and_restart_note():
    d = correlated_slopes_data()
    ref = glmer(SLOPES, d)
    # 3 L-BFGS-B iterations cannot converge: the gradient check fails
    with pytest.warns(ConvergenceWarning, match="scaled gradient"):
        m = glmer(SLOPES, d, control={"maxiter": 3, "restart": False})
    assert not m.converged
    with pytest.raises(ConvergenceError, match="scaled gradient"):
        glmer(SLOPES, d, control={"maxiter": 3, "restart": False, "check_conv_grad": "stop"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        quiet = glmer(SLOPES, d, control={"maxiter": 3, "restart": False,
                                          "check.conv.grad": {"action": "ignore"}})
    assert not quiet.converged
    # with restarts (the default) glmer refits, reaches the optimum and says so
    r = glmer(SLOPES, d, control={"maxiter": 3})
    assert r.converged
    assert r.loglik == pytest.approx(ref.loglik, abs=1e-6)
    assert any("refitted from" in msg for msg in r.optimizer_messages)
    assert "refitted from" in str(r.summary())


@pytest.mark.parametrize("optimizer", ["COBYQA", "Nelder-Mead", "bobyqa"])
def test_every_optimizer_reaches_the_same_optimum(optimizer):
    d = correlated_slopes_data()
    ref = glmer(SLOPES, d)
    m = glmer(SLOPES, d, control={"optimizer": optimizer})
    assert m.loglik == pytest.approx(ref.loglik, abs=1e-7)
    np.testing.assert_allclose(m.fixef, ref.fixef, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-4, atol=1e-6)


def test_theta_optimizers_for_nagq0_agree():
    d = correlated_slopes_data()
    base = glmer("cbind(s, f) ~ x + (1 | g)", d, nAGQ=0)
    for opt in ("COBYQA", "Nelder-Mead", "bounded"):
        m = glmer("cbind(s, f) ~ x + (1 | g)", d, nAGQ=0, control={"theta_optimizer": opt})
        assert m.theta[0] == pytest.approx(base.theta[0], abs=1e-5)
    with pytest.raises(ValueError, match="'bounded' needs one covariance parameter"):
        glmer(SLOPES, d, nAGQ=0, control={"theta_optimizer": "bounded"})


def test_tol_pwrss_reaches_the_deviance_closures():
    d = correlated_slopes_data()
    model = GlmerModel.from_formula(SLOPES, d, control={"tolPwrss": 1e-7})
    assert model.laplace_deviance().pirls_tol == 1e-7
    assert model.deviance().pirls_tol == 1e-7
    loose = model.fit()
    exact = glmer(SLOPES, d)
    # lme4's default tolerance leaves the conditional modes (hence the deviance) inexact
    assert loose.loglik == pytest.approx(exact.loglik, abs=1e-3)


def test_calc_derivs_false_skips_standard_errors():
    m = glmer(SLOPES, correlated_slopes_data(), control={"calc.derivs": False})
    assert np.all(np.isnan(m.bse))


# ------------------------------------------------------------------------------ start
@pytest.mark.parametrize(
    "start, match",
    [
        ({"theta": [1.0, 0.0]}, r"start\['theta'\] has 2 value\(s\) but this model has 3"),
        ([1.0], r"start\['theta'\] has 1 value\(s\) but this model has 3"),
        ({"thetas": [1, 0, 1]}, r"unknown key 'thetas' \(did you mean 'theta'\?\)"),
        ({"beta": [0, 0]}, r"unknown key 'beta'"),
        ({"fixef": [0.0]}, r"start\['fixef'\] has 1 value\(s\) but the model has 2"),
        ({"fixef": {"(Intercept)": 0, "z": 1}}, r"'z' is not a fixed-effect column"),
        ({"fixef": {"(Intercept)": 0}}, r"start\['fixef'\] lacks \['x'\]"),
        ({"theta": [1.0, 0.0, -0.5]}, r"start\['theta'\]\[2\] = -0.5 is negative"),
        ({"theta": [1.0, np.nan, 1.0]}, r"must be finite"),
    ],
)
def test_bad_start_is_named_before_fitting(start, match, monkeypatch):
    d = correlated_slopes_data()
    calls = []
    monkeypatch.setattr(GlmerModel, "_fit", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match=match):
        glmer(SLOPES, d, start=start)
    assert not calls


def test_start_is_used_and_reaches_the_same_optimum():
    d = correlated_slopes_data()
    ref = glmer(SLOPES, d)
    for start in ([0.5, 0.0, 0.5], {"theta": [2.0, 0.1, 0.3]},
                  {"fixef": {"x": 0.0, "(Intercept)": 1.0}},
                  {"theta": ref.theta, "fixef": ref.fixef}):
        m = glmer(SLOPES, d, start=start)
        assert m.loglik == pytest.approx(ref.loglik, abs=1e-7)
    model = GlmerModel.from_formula(SLOPES, d)
    phi = model.check_start({"theta": [0.5, 0.25, 0.5]})
    np.testing.assert_allclose(phi[:3], [0.5, 0.25, 0.5])
    assert phi.size == 5


def test_start_for_nagq0_and_agq():
    d = correlated_slopes_data()
    f = "cbind(s, f) ~ x + (1 | g)"
    for nAGQ in (0, 5):
        ref = glmer(f, d, nAGQ=nAGQ)
        m = glmer(f, d, nAGQ=nAGQ, start={"theta": [3.0], "fixef": [1.0, -1.0]})
        assert m.loglik == pytest.approx(ref.loglik, abs=1e-6)


# ------------------------------------------------------------------------------ offset
def test_offset_argument_equals_offset_in_the_formula():
    d = offset_data()
    both = glmer("cbind(s, f) ~ x + offset(o1) + offset(o2) + (1 | g)", d)
    arg = glmer("cbind(s, f) ~ x + offset(o1) + (1 | g)", d, offset="o2")
    values = glmer("cbind(s, f) ~ x + offset(o1) + (1 | g)", d, offset=d["o2"].to_numpy())
    for m in (arg, values):
        assert m.loglik == pytest.approx(both.loglik, abs=1e-8)
        np.testing.assert_allclose(m.fixef, both.fixef, rtol=1e-7)
    np.testing.assert_allclose(arg.design.offset, d["o1"] + d["o2"])
    # predictions: a column offset is evaluated on new rows; a values offset cannot be
    nd = d.iloc[:3]
    np.testing.assert_allclose(arg.predict(newdata=nd), both.predict(newdata=nd), rtol=1e-7)
    with pytest.raises(ValueError, match="offset= argument was given as values"):
        values.predict(newdata=nd)


@pytest.mark.parametrize(
    "offset, error, match",
    [
        (np.zeros(5), ValueError, r"offset= has 5 values but data has 400 rows"),
        ("nope", ValueError, r"nope"),
        ("inf", ValueError, r"offset 'o_inf' is not finite|o_inf"),
        ("nan_values", ValueError, r"offset= must be finite, but 1 value\(s\) are missing"),
        ("strings", TypeError, r"offset= must be numbers"),
    ],
)
def test_bad_offset_is_named_before_fitting(offset, error, match, no_fitting):
    d = offset_data()
    d["o_inf"] = d["o2"]
    d.loc[3, "o_inf"] = np.inf
    if isinstance(offset, str) and offset == "inf":
        offset = "o_inf"
    elif isinstance(offset, str) and offset == "nan_values":
        offset = d["o2"].to_numpy().copy()
        offset[7] = np.nan
    elif isinstance(offset, str) and offset == "strings":
        offset = ["a"] * len(d)
    with pytest.raises(error, match=match):
        glmer("cbind(s, f) ~ x + (1 | g)", d, offset=offset)


def test_offset_column_with_missing_values_drops_rows():
    d = offset_data()
    d["o3"] = d["o2"]
    d.loc[[0, 5], "o3"] = np.nan
    with pytest.warns(glmmteach.RowsDroppedWarning, match="o3"):
        m = glmer("cbind(s, f) ~ x + (1 | g)", d, offset="o3")
    assert m.nobs == len(d) - 2


# ------------------------------------------------------------------------------ cauchit
def test_cauchit_link_closed_forms():
    fam = binomial("cauchit")
    eta = np.array([-1e8, -40.0, -1.5, 0.0, 0.7, 25.0, 1e7])
    mu = fam.linkinv(eta)
    np.testing.assert_allclose(mu, 0.5 + np.arctan(eta) / np.pi, rtol=1e-9, atol=1e-15)
    # far tails keep full relative precision: mu ~ 1 / (pi |eta|), 1 - mu likewise
    assert mu[0] == pytest.approx(1.0 / (np.pi * 1e8), rel=1e-12)
    lmu, lomu = fam.log_mu(eta)
    assert lomu[-1] == pytest.approx(np.log(1.0 / (np.pi * 1e7)), rel=1e-12)
    np.testing.assert_allclose(fam.linkfun(fam.linkinv(eta[1:-1])), eta[1:-1], rtol=1e-10)
    # score and weight against finite differences of the log-likelihood
    y, n = np.array([0.25]), np.array([4.0])
    for e in (-2.0, 0.3, 3.0):
        h = 1e-5
        ll = lambda t: fam.loglik_obs(y, n, np.array([t]))[0]  # noqa: E731
        _, s, w, _, w_obs = fam.working(y, n, np.array([e]), observed=True)
        assert s[0] == pytest.approx((ll(e + h) - ll(e - h)) / (2 * h), rel=1e-6)
        sc = lambda t: fam.working(y, n, np.array([t]))[1][0]  # noqa: E731
        assert w_obs[0] == pytest.approx(-(sc(e + h) - sc(e - h)) / (2 * h), rel=1e-6)
        mu_e = fam.linkinv(np.array([e]))[0]
        d1 = 1.0 / (np.pi * (1 + e * e))
        assert w[0] == pytest.approx(n[0] * d1**2 / (mu_e * (1 - mu_e)), rel=1e-12)


def test_cauchit_in_glmer_and_bad_link_message():
    d = correlated_slopes_data()
    m = glmer("cbind(s, f) ~ x + (1 | g)", d, family=binomial("cauchit"))
    assert m.family.link == "cauchit" and np.isfinite(m.loglik)
    assert "cauchit" in str(m.summary())
    with pytest.raises(ValueError, match="cauchit"):
        binomial("cauchy")


def test_loglik_and_score_matches_the_one_row_functions():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 5, (30, 1)) / 4.0
    n = np.full((30, 1), 4.0)
    eta = rng.normal(0, 3, (30, 6))
    for link in ("logit", "probit", "cloglog", "cauchit"):
        fam = binomial(link)
        ll, s = fam.loglik_and_score(y, n, eta, 0.0)
        np.testing.assert_allclose(ll, fam.loglik_obs(y, n, eta), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s, fam.working(y, n, eta)[1], rtol=1e-10, atol=1e-12)


def test_frame_is_not_needed_for_errors():
    # a start given as a plain string is a type error, named
    with pytest.raises(TypeError, match="start must be a dict"):
        glmer(SLOPES, correlated_slopes_data(), start="theta")
    assert isinstance(pd.DataFrame(), pd.DataFrame)
