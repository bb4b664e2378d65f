"""Tests for model checking (glmmteach.checks), its figures (glmmteach.checkplots) and the
lesson explorers (glmmteach.lesson_widgets).

Reference values: the article's printed cell proportions (R's ``aggregate``), closed forms
(normal integrals by quadrature, binomial probabilities), the exactness of randomized PIT
values under exchangeability, and the article's finding that the model without interaction
is wrong.
"""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import integrate, special, stats  # noqa: E402

import glmmteach  # noqa: E402
from glmmteach import datasets
from glmmteach.course.widgets import lessons as lesson_widgets
from glmmteach.diagnostics import checks
from glmmteach.diagnostics import plots as checkplots  # noqa: E402

SEED = 2021


@pytest.fixture(scope="module")
def data():
    return datasets.vegetables()


@pytest.fixture(scope="module")
def correct(data):
    return glmmteach.glmer("y ~ trt * sex + (1|id)", data)


@pytest.fixture(scope="module")
def wrong(data):
    return glmmteach.glmer("y ~ trt + sex + (1|id)", data)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------------
# the acceptance criterion: the checks see the wrong model and not the correct one
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [None, "id"])
def test_residual_checks_reject_wrong_model_and_not_correct_one(correct, wrong, group):
    res_ok = checks.scaled_residuals(correct, nsim=250, seed=SEED, group=group)
    res_bad = checks.scaled_residuals(wrong, nsim=250, seed=SEED, group=group)
    ok = checks.residual_tests(res_ok, by=["trt", "sex"])
    bad = checks.residual_tests(res_bad, by=["trt", "sex"])
    assert len(ok) == len(bad) == 5
    # correct model: no reported test rejects
    assert (ok["p_value"] >= 0.05).all(), ok
    # wrong model: at least one test rejects, and it is the comparison of the cells
    assert (bad["p_value"] < 0.05).any(), bad
    kw = bad.set_index("test").filter(like="Kruskal", axis=0)["p_value"].iloc[0]
    assert kw < 1e-5
    # ... while the pooled uniformity test alone does not see it (the lesson's point)
    if group == "id":
        assert bad["p_value"].iloc[0] > 0.05


def test_per_subject_cell_test_matches_the_measured_strength(correct, wrong):
    # Measured with lme4 + DHARMa-like code: p about 1e-10 for the wrong model, about 1 for
    # the correct one. Simulation noise moves the exponent; bound it loosely.
    p_bad = checks.group_test(checks.scaled_residuals(wrong, 250, SEED, "id"),
                              ["trt", "sex"]).p_value
    p_ok = checks.group_test(checks.scaled_residuals(correct, 250, SEED, "id"),
                             ["trt", "sex"]).p_value
    assert p_bad < 1e-7
    assert p_ok > 0.3


# --------------------------------------------------------------------------------------------
# predictive check
# --------------------------------------------------------------------------------------------


def test_predictive_check_observed_matches_article(correct):
    pc = checks.predictive_check(correct, by=("trt", "sex"), nsim=20, seed=1)
    obs = pc.observed.set_index(["trt", "sex"])["proportion"]
    # the article's aggregate(d$y, by = list(trt, sex), mean)
    assert obs["control", "female"] == pytest.approx(0.4242424, abs=5e-8)
    assert obs["treat", "female"] == pytest.approx(0.8659341, abs=5e-8)
    assert obs["control", "male"] == pytest.approx(0.2820823, abs=5e-8)
    assert obs["treat", "male"] == pytest.approx(0.5071429, abs=5e-8)
    assert list(pc.observed["n"]) == [924, 826, 910, 840]
    assert len(pc.simulated) == 20 * 4
    assert list(pc.simulated.columns) == ["sim", "trt", "sex", "proportion"]
    assert set(pc.simulated["sim"]) == set(range(1, 21))


def test_predictive_check_simulated_mean_is_marginal_expectation(correct):
    # E[y] in a cell = integral of inv_logit(eta + sigma u) phi(u) du: a closed-form check of
    # the simulation (random effects redrawn each time).
    pc = checks.predictive_check(correct, by="trtsex", nsim=400, seed=3)
    beta = correct.fixef
    sigma = float(correct.varcorr["sdcor"].iloc[0])
    etas = {
        "control.female": beta["(Intercept)"],
        "treat.female": beta["(Intercept)"] + beta["trttreat"],
        "control.male": beta["(Intercept)"] + beta["sexmale"],
        "treat.male": beta.sum(),
    }
    summary = pc.summary().set_index("trtsex")
    for cell, eta in etas.items():
        expected, _ = integrate.quad(
            lambda u, e=eta: special.expit(e + sigma * u) * stats.norm.pdf(u), -10, 10)
        n = pc.observed.set_index("trtsex").loc[cell, "n"]
        # Monte Carlo SE of a mean of 400 cell proportions (binomial + subject variance)
        se = math.sqrt(expected * (1 - expected) / n * 1.3 / 400)
        assert summary.loc[cell, "sim_mean"] == pytest.approx(expected, abs=4 * se)


def test_predictive_check_flags_every_cell_of_wrong_model(correct, wrong):
    ok = checks.predictive_check(correct, nsim=100, seed=SEED).summary()
    bad = checks.predictive_check(wrong, nsim=100, seed=SEED).summary()
    assert (ok["p_value"] > 0.2).all()
    assert (bad["p_value"] < 0.05).all()
    assert list(bad.columns) == ["trt", "sex", "observed", "sim_mean", "sim_2.5%",
                                 "sim_97.5%", "p_value"]


def test_seed_reproducible_and_generator_accepted(correct):
    a = checks.scaled_residuals(correct, nsim=30, seed=7)
    b = checks.scaled_residuals(correct, nsim=30, seed=7)
    c = checks.scaled_residuals(correct, nsim=30, seed=np.random.default_rng(7))
    pd.testing.assert_series_equal(a.residuals, b.residuals)
    pd.testing.assert_series_equal(a.residuals, c.residuals)
    d = checks.predictive_check(correct, nsim=5, seed=np.random.default_rng(1))
    e = checks.predictive_check(correct, nsim=5, seed=1)
    pd.testing.assert_frame_equal(d.simulated, e.simulated)


# --------------------------------------------------------------------------------------------
# the mathematics of the residuals and tests
# --------------------------------------------------------------------------------------------


def test_randomized_pit_is_exactly_uniform_under_exchangeability():
    # Discrete data with many ties; observed and simulated values from the same law. The
    # PIT values must be U(0, 1): mean 1/2, variance 1/12, and a KS test must not reject.
    rng = np.random.default_rng(11)
    n, s = 20000, 9
    p = rng.uniform(0.05, 0.95, n)
    obs = rng.binomial(3, p).astype(float)
    sims = rng.binomial(3, p[:, None], size=(n, s)).astype(float)
    r = checks._randomized_pit(obs, sims, rng)
    assert r.min() > 0 and r.max() < 1
    assert r.mean() == pytest.approx(0.5, abs=4 * math.sqrt(1 / 12 / n))
    assert r.var() == pytest.approx(1 / 12, rel=0.03)
    assert stats.kstest(r, "uniform").pvalue > 0.01


def test_pit_of_a_single_unit_by_hand():
    rng = np.random.default_rng(0)
    obs = np.array([2.0])
    sims = np.array([[0.0, 1.0, 2.0, 2.0, 3.0]])
    v = np.random.default_rng(0).uniform(size=1)[0]
    # 2 simulations below, 2 ties: r = (2 + V * 3) / 6
    assert checks._randomized_pit(obs, sims, rng)[0] == pytest.approx((2 + 3 * v) / 6)


def _fake_residuals(observed, simulated):
    observed = np.asarray(observed, float)
    simulated = np.asarray(simulated, float)
    r = checks._randomized_pit(observed, simulated, np.random.default_rng(0))
    return checks.ScaledResiduals(
        residuals=pd.Series(r), observed=observed, simulated=simulated,
        predicted=np.zeros(len(observed)), units=pd.DataFrame(index=range(len(observed))),
        level="observation", nsim=simulated.shape[1], model_formula="y ~ 1")


def test_dispersion_test_detects_overdispersion_and_not_a_correct_model():
    rng = np.random.default_rng(5)
    n, s = 300, 199
    sims = rng.binomial(14, 0.5, size=(n, s))
    good = rng.binomial(14, 0.5, size=n)
    # overdispersed: each unit has its own probability
    bad = rng.binomial(14, rng.beta(2, 2, size=n))
    res_good = checks.dispersion_test(_fake_residuals(good, sims))
    res_bad = checks.dispersion_test(_fake_residuals(bad, sims))
    assert res_good.p_value > 0.05
    assert 0.8 < res_good.statistic < 1.2
    assert res_bad.p_value == pytest.approx(2 / (s + 1))  # the smallest possible
    assert res_bad.statistic > 1.5


def test_outlier_test_counts_units_outside_simulations():
    rng = np.random.default_rng(6)
    n, s = 200, 99
    sims = rng.normal(size=(n, s))
    obs = rng.normal(size=n)
    obs[:20] = 10.0  # far above every simulation
    res = checks.outlier_test(_fake_residuals(obs, sims))
    assert res.statistic >= 20
    # binomial(200, 2/100) tail probability of >= statistic outliers
    assert res.p_value == pytest.approx(stats.binom.sf(res.statistic - 1, n, 2 / (s + 1)))
    assert res.p_value < 1e-6


def test_group_test_detail_and_units(correct):
    res = checks.scaled_residuals(correct, nsim=50, seed=1, group="id")
    assert res.n == 250
    assert res.level == "id"
    assert list(res.units.columns[:4]) == ["id", "trt", "sex", "trtsex"]
    assert "day" not in res.units.columns and "y" not in res.units.columns
    np.testing.assert_array_equal(res.observed,
                                  correct.data.groupby("id")["y"].sum().to_numpy())
    g = checks.group_test(res, ["trt", "sex"])
    assert list(g.detail["level"]) == ["control.female", "control.male", "treat.female",
                                       "treat.male"]
    assert g.detail["n"].sum() == 250
    w = checks.within_group_uniformity_test(res, ["trt", "sex"])
    assert w.p_value == pytest.approx(min(1.0, 4 * g.detail["ks_p_value"].min()))
    assert "Kruskal-Wallis" in str(g)


def _marginal_p(eta, sd):
    """E[inv_logit(eta + sd * t)], t ~ N(0, 1), by adaptive quadrature."""
    return integrate.quad(lambda t: special.expit(eta + sd * t) * stats.norm.pdf(t),
                          -12, 12, epsabs=1e-13, epsrel=1e-12)[0]


def test_group_sums_match_dense_sums_without_a_dense_matrix():
    import tracemalloc

    rng = np.random.default_rng(3)
    n_rows, n_groups, nsim = 30_000, 3_000, 8
    codes = rng.integers(0, n_groups, n_rows)
    values = rng.binomial(1, 0.4, size=(n_rows, nsim)).astype(float)
    expected = pd.DataFrame(values).groupby(codes).sum().to_numpy()
    np.testing.assert_array_equal(checks._group_sums(codes, values, n_groups), expected)
    np.testing.assert_array_equal(checks._group_sums(codes, values[:, 0], n_groups),
                                  expected[:, 0])
    # a group with no rows sums to 0
    assert checks._group_sums(np.array([0, 2]), np.ones((2, 3)), 4).tolist() == \
        [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]]
    # a dense groups x rows indicator would need 3000 * 30000 * 8 bytes = 720 MB
    tracemalloc.start()
    try:
        checks._group_sums(codes, values, n_groups)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def test_grouped_residuals_add_up_the_row_simulations(correct):
    rows = checks.scaled_residuals(correct, nsim=20, seed=3)
    per_id = checks.scaled_residuals(correct, nsim=20, seed=3, group="id")
    expected = pd.DataFrame(rows.simulated).groupby(correct.data["id"].to_numpy()).sum()
    np.testing.assert_array_equal(per_id.simulated, expected.to_numpy())
    pc = checks.predictive_check(correct, by="trt", nsim=20, seed=3)
    trt = correct.data["trt"].to_numpy()
    treated = rows.simulated[trt == "treat"].sum(axis=0) / np.sum(trt == "treat")
    np.testing.assert_allclose(pc.simulated.query("trt == 'treat'")["proportion"], treated)


def test_binned_residuals_closed_form(correct):
    b = checks.binned_residuals(correct, n_bins=10, conditional=True)
    assert b.attrs["fitted"] == "conditional"
    assert len(b) == 10 and b["n"].sum() == 3500
    p = np.sort(correct.fitted.to_numpy())
    first = p[:350]
    assert b["fitted"].iloc[0] == pytest.approx(first.mean())
    assert b["se"].iloc[0] == pytest.approx(math.sqrt(np.sum(first * (1 - first))) / 350)
    assert (b["upper"] == 2 * b["se"]).all()


def test_binned_residuals_default_uses_marginal_probabilities(correct):
    # The default compares y with E[y] = integral of inv_logit(x'beta + sigma t) phi(t) dt,
    # not with the probability at u = 0.
    b = checks.binned_residuals(correct, n_bins=10)
    assert b.attrs["fitted"] == "marginal"
    sigma = float(correct.varcorr["sdcor"].iloc[0])
    eta = correct.predict(re_form="~0").to_numpy()
    cells, cell_of_row = np.unique(eta, return_inverse=True)  # four cells
    p = np.array([_marginal_p(e, sigma) for e in cells])[cell_of_row]
    p_sorted = np.sort(p)
    for k in (0, 9):
        rows = p_sorted[350 * k:350 * (k + 1)]
        assert b["fitted"].iloc[k] == pytest.approx(rows.mean(), abs=1e-10)
        # 0/1 data: Var(y_i) = p_i (1 - p_i) exactly
        assert b["se"].iloc[k] == pytest.approx(math.sqrt(np.sum(rows * (1 - rows))) / 350,
                                                rel=1e-8)
    y = correct.design.y[np.argsort(p, kind="stable")]
    assert b["residual"].iloc[0] == pytest.approx(np.mean(y[:350] - p_sorted[:350]), abs=1e-10)
    # the marginal probabilities lie between the u = 0 ones and 0.5
    p0 = special.expit(eta)
    assert np.all(np.abs(p - 0.5) < np.abs(p0 - 0.5))
    default = checks.binned_residuals(correct)
    assert len(default) == math.isqrt(3500)
    # one random intercept: the four cells' marginal probabilities only
    assert default["fitted"].round(10).nunique() <= 4 + 3


def test_binned_residuals_binomial_variance_by_quadrature():
    # Rows of m = 8 trials share a subject effect: Var(y/m) = E[p(1-p)]/m + Var(p).
    rng = np.random.default_rng(17)
    n_id, n_per, m = 40, 5, 8
    ids = np.repeat(np.arange(n_id), n_per)
    x = rng.normal(size=n_id * n_per)
    s = rng.binomial(m, special.expit(0.3 + 0.8 * x + rng.normal(0, 1.5, n_id)[ids]))
    frame = pd.DataFrame({"s": s, "f": m - s, "x": x, "id": ids})
    model = glmmteach.glmer("cbind(s, f) ~ x + (1|id)", frame)
    b = checks.binned_residuals(model, n_bins=model.nobs)  # one row per bin
    sigma = float(model.varcorr["sdcor"].iloc[0])
    eta = np.sort(model.predict(re_form="~0").to_numpy())
    for k in (0, len(eta) // 2, len(eta) - 1):
        mean = _marginal_p(eta[k], sigma)
        second = integrate.quad(
            lambda t, e=eta[k]: special.expit(e + sigma * t) ** 2 * stats.norm.pdf(t),
            -12, 12, epsabs=1e-13, epsrel=1e-12)[0]
        var = (mean - second) / m + (second - mean**2)
        assert b["fitted"].iloc[k] == pytest.approx(mean, rel=1e-9)
        assert b["se"].iloc[k] == pytest.approx(math.sqrt(var), rel=1e-7)


def _binned_share_outside(seeds, use_marginal=True):
    """Share of bins outside +/-2 SE over correct-model data sets, y ~ x + (1|id), SD 2."""
    outside = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        ids = np.repeat(np.arange(60), 20)
        x = rng.normal(size=ids.size)
        u = rng.normal(0.0, 2.0, 60)[ids]
        frame = pd.DataFrame({"y": rng.binomial(1, special.expit(-0.5 + x + u)), "x": x,
                              "id": ids})
        model = glmmteach.glmer("y ~ x + (1|id)", frame)
        if use_marginal:
            outside.append(checks.binned_residuals(model)["outside"].to_numpy())
        else:  # the probability of a subject with u = 0, by hand
            p = model.predict(re_form="~0", type="response").to_numpy()
            y = model.design.y
            for idx in np.array_split(np.argsort(p), math.isqrt(model.nobs)):
                se = math.sqrt(np.sum(p[idx] * (1 - p[idx]))) / len(idx)
                outside.append([abs(np.mean(y[idx] - p[idx])) > 2 * se])
    return float(np.mean(np.concatenate(outside)))


def test_binned_residuals_calibrated_for_a_correct_model():
    # Simulation recovery: 40 data sets from y ~ x + (1|id) with a large SD (2), 60 subjects
    # x 20 rows, 34 bins each. Under the model about 5% of the bins leave the +/-2 SE band.
    share = _binned_share_outside(range(40))
    assert 0.01 < share < 0.1
    # Residuals against the u = 0 probability flag the correct model (the reviewer's bug);
    # the same criterion would catch a return to it.
    assert _binned_share_outside(range(10), use_marginal=False) > 0.12


def test_laplace_integrand_adds_up_to_the_laplace_loglik(correct):
    # Sum of the subjects' Laplace contributions at the estimates = the model's log-likelihood
    total = sum(checkplots.laplace_integrand(correct, j)[1]["log_laplace"]
                for j in correct.design.terms[0].levels)
    assert total == pytest.approx(correct.loglik, abs=1e-6)


def test_laplace_integrand_exact_value_by_quadrature(correct, data):
    sub = data[data["id"] == 65]
    beta = correct.fixef
    eta = beta["(Intercept)"] + beta["trttreat"]  # treated female
    sigma = 2.0

    def f(u):
        return np.prod(stats.binom.pmf(sub["y"], 1, special.expit(eta + sigma * u))) \
            * stats.norm.pdf(u)

    exact, _ = integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-12, limit=200)
    curve, num = checkplots.laplace_integrand(correct, 65, sigma=sigma)
    assert num["log_exact"] == pytest.approx(math.log(exact), abs=1e-8)
    assert num["successes"] == sub["y"].sum()
    assert curve["integrand"].max() == pytest.approx(1.0, abs=1e-4)
    # a skewed integrand: the Laplace approximation is off, but not by much
    assert 1e-4 < abs(num["log_laplace"] - num["log_exact"]) < 0.05


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nsim", [0, -3, 1.5, True, "10"])
def test_bad_nsim(correct, nsim):
    with pytest.raises(ValueError, match="nsim"):
        checks.scaled_residuals(correct, nsim=nsim)
    with pytest.raises(ValueError, match="nsim"):
        checks.predictive_check(correct, nsim=nsim)


def test_bad_columns(correct):
    with pytest.raises(ValueError, match="'treatment'"):
        checks.predictive_check(correct, by=["treatment", "sex"], nsim=2)
    with pytest.raises(ValueError, match="'subject'"):
        checks.scaled_residuals(correct, nsim=2, group="subject")
    res = checks.scaled_residuals(correct, nsim=5, seed=1, group="id")
    with pytest.raises(ValueError, match="'day'.*within each id"):
        checks.group_test(res, "day")
    res_obs = checks.scaled_residuals(correct, nsim=5, seed=1)
    with pytest.raises(ValueError, match="'age'"):
        checks.residual_tests(res_obs, by="age")
    with pytest.raises(ValueError, match="subject 999"):
        checkplots.laplace_integrand(correct, 999)


def test_missing_values_in_grouping_columns_are_refused(data):
    # Rows with a missing 'site' belong to no cell: refuse, naming the column and the count,
    # rather than fail obscurely (predictive_check) or drop units silently (group_test).
    frame = data.copy()
    site = pd.Series(np.where(frame["id"] % 2 == 0, "north", "south"), index=frame.index,
                     dtype=object)
    frame["site"] = site.where(frame["id"] % 5 != 0)  # 50 of 250 students, 700 rows
    model = glmmteach.glmer("y ~ trt * sex + (1|id)", frame)
    with pytest.raises(ValueError, match=r"by: column 'site' has 700 missing values"):
        checks.predictive_check(model, by=["trt", "site"], nsim=2, seed=1)
    with pytest.raises(ValueError, match=r"group: column 'site' has 700 missing values"):
        checks.scaled_residuals(model, nsim=2, seed=1, group="site")
    res = checks.scaled_residuals(model, nsim=5, seed=1)
    with pytest.raises(ValueError, match=r"'site' has 700 missing values \(of 3500 rows\)"):
        checks.group_test(res, "site")
    with pytest.raises(ValueError, match=r"'site' has 700 missing values"):
        checks.residual_tests(res, by=["trt", "site"])
    per_id = checks.scaled_residuals(model, nsim=5, seed=1, group="id")
    with pytest.raises(ValueError, match=r"'site' has 50 missing values \(of 250 per-id"):
        checks.group_test(per_id, ["sex", "site"])
    with pytest.raises(ValueError, match=r"'site' has 50 missing values"):
        checkplots.plot_residuals_by_group(per_id, "site")
    one = frame.assign(site=frame["site"].fillna("north"))
    one.loc[one.index[0], "site"] = np.nan
    m1 = glmmteach.glmer("y ~ trt * sex + (1|id)", one)
    with pytest.raises(ValueError, match=r"has 1 missing value \(of 3500 rows\)"):
        checks.predictive_check(m1, by="site", nsim=2, seed=1)


def test_bad_types(correct):
    with pytest.raises(TypeError, match="glmer"):
        checks.scaled_residuals("model", nsim=5)
    with pytest.raises(ValueError, match="seed"):
        checks.scaled_residuals(correct, nsim=5, seed=1.5)
    with pytest.raises(TypeError, match="scaled_residuals"):
        checks.uniformity_test(np.zeros(3))
    with pytest.raises(ValueError, match="n_bins"):
        checks.binned_residuals(correct, n_bins=0)


# --------------------------------------------------------------------------------------------
# figures: render without warnings, labelled axes, a title
# --------------------------------------------------------------------------------------------


def _check_axes(ax, tmp_path, name):
    assert ax.get_xlabel().strip(), "x axis needs a label"
    assert ax.get_ylabel().strip(), "y axis needs a label"
    assert ax.get_title().strip(), "figure needs a title"
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    assert path.stat().st_size > 1000


def test_plot_predictive_check(correct, wrong, tmp_path):
    for label, model in (("correct", correct), ("wrong", wrong)):
        pc = checks.predictive_check(model, nsim=30, seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = checkplots.plot_predictive_check(pc)
            assert fig._suptitle is not None and fig._suptitle.get_text().strip()
            assert len(fig.axes) == 2
            assert [a.get_title() for a in fig.axes] == ["sex: female", "sex: male"]
            for k, ax in enumerate(fig.axes):
                _check_axes(ax, tmp_path, f"pc_{label}_{k}")
    one = checks.predictive_check(correct, by="trt", nsim=5, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = checkplots.plot_predictive_check(one, title="One factor")
        _check_axes(fig.axes[0], tmp_path, "pc_one")
    with pytest.raises(ValueError, match="col='day'"):
        checkplots.plot_predictive_check(pc, col="day")


@pytest.mark.parametrize("group", [None, "id"])
def test_residual_figures(wrong, tmp_path, group):
    res = checks.scaled_residuals(wrong, nsim=40, seed=1, group=group)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_axes(checkplots.plot_residual_qq(res), tmp_path, "qq")
        _check_axes(checkplots.plot_residuals_vs_predicted(res), tmp_path, "rvp")
        _check_axes(checkplots.plot_residuals_by_group(res, ["trt", "sex"]), tmp_path, "grp")
        ax = checkplots.plot_residuals_by_group(res, "sex", title="By sex")
        assert ax.get_title() == "By sex"
        _check_axes(ax, tmp_path, "grp_sex")


def test_other_figures(correct, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_axes(checkplots.plot_binned_residuals(correct), tmp_path, "binned")
        _check_axes(checkplots.plot_binned_residuals(checks.binned_residuals(correct, 20)),
                    tmp_path, "binned20")
        _check_axes(checkplots.plot_laplace_integrand(correct, 65, nAGQ=5), tmp_path, "lap")
        _check_axes(checkplots.plot_laplace_integrand(correct, 1, sigma=2.5), tmp_path, "lap2")
        table = pd.DataFrame({"term": ["a", "b", "a", "b"], "method": ["x", "x", "y", "y"],
                              "estimate": [0.1, 0.2, 0.15, 0.25], "se": [0.05] * 4})
        _check_axes(checkplots.plot_coefficient_comparison(table, truth={"a": 0, "b": 0.2}),
                    tmp_path, "coef")
    with pytest.raises(TypeError):
        checkplots.plot_binned_residuals(pd.DataFrame({"x": [1]}))


# --------------------------------------------------------------------------------------------
# lesson explorers
# --------------------------------------------------------------------------------------------


def test_refit_table_glm_standard_errors_too_small():
    t = lesson_widgets.refit_table([0.0, 2.0], n_subjects=120, seed=4)
    assert list(t.columns) == ["sd", "n_subjects", "sd_hat", "glmer_est", "glmer_se",
                               "glm_est", "glm_se", "se_ratio"]
    # no subject variation: the same SEs; large variation: the GLM is overconfident
    assert t["se_ratio"].iloc[0] == pytest.approx(1.0, abs=0.05)
    assert t["se_ratio"].iloc[1] < 0.6
    assert t["sd_hat"].iloc[1] == pytest.approx(2.0, rel=0.35)


def test_effect_sizes_article_example():
    e = lesson_widgets.effect_sizes(0.001, 0.009)
    assert e["odds_ratio"] == pytest.approx(9.072654, abs=5e-7)  # the article's number
    assert e["difference"] == pytest.approx(0.008)
    assert e["risk_ratio"] == pytest.approx(9.0)
    with pytest.raises(ValueError, match="p0"):
        lesson_widgets.effect_sizes(0.0, 0.5)


def test_explorers_build_and_react(correct, wrong):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = lesson_widgets.refit_explorer(sd=1.0, n_subjects=60)
        assert isinstance(v, w.VBox) and "estimated SD" in v.children[1].value
        v.children[0].children[0].value = 2.0
        v = lesson_widgets.laplace_explorer(correct, [65, 1])
        assert "Laplace" in v.children[1].value
        v.children[0].children[1].value = 2.0
        assert "SD 2.00" in v.children[1].value
        v = lesson_widgets.effect_size_explorer()
        assert "odds ratio 9.00" in v.children[1].value
        v = lesson_widgets.residual_explorer({"correct": correct, "wrong": wrong}, nsim=20)
        v.children[0].children[0].value = "wrong"
        v.children[0].children[2].value = "QQ plot"
        assert "Kruskal-Wallis" in v.children[1].value
    t = lesson_widgets.residual_check_table({"correct": correct}, nsim=20, seed=1)
    assert list(t.columns) == ["model", "level", "test", "statistic", "p_value"]
    assert len(t) == 10
