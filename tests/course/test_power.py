"""Power analysis by simulation (glmmteach.power).

Reference values: the Wald test's level (0.05) recovered by simulation under a null effect,
and the closed-form large-sample power, whose standard error is checked against the inverse
Fisher information of the saturated logistic model computed independently here.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from glmmteach import simulate
from glmmteach.course import power

matplotlib.use("Agg")

ARTICLE = dict(simulate.ARTICLE_LOGIT_COEFS)
NULL = {**ARTICLE, "trttreat:sexmale": 0.0}


# ----------------------------------------------------------------------------- design


def test_balanced_design_spreads_subjects_evenly():
    d = power.balanced_design(10, n_days=3)
    assert d.shape == (30, 4)
    assert list(d.columns) == ["id", "day", "trt", "sex"]
    per_cell = d.drop_duplicates("id").groupby(["trt", "sex"], observed=True).size()
    assert sorted(per_cell.tolist()) == [2, 2, 3, 3]
    assert (d.groupby("id")[["trt", "sex"]].nunique() == 1).all().all()
    assert list(d["trt"].cat.categories) == ["control", "treat"]


# ----------------------------------------------------------------------------- closed form


def test_approximate_se_is_the_inverse_fisher_information_of_the_logistic_model():
    # sd = 0: the saturated logistic regression on a balanced design. Its expected
    # information is X' W X over the cells (weight n_c T p (1 - p)); invert it.
    n, T = 40, 14
    p = simulate.coefs_to_probs(ARTICLE).to_numpy()
    X = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]], dtype=float)
    info = X.T @ np.diag(n / 4 * T * p * (1 - p)) @ X
    se_exact = math.sqrt(np.linalg.inv(info)[3, 3])
    approx = power.approximate_power(n, n_days=T, sd=0.0)
    assert approx["se"].iloc[0] == pytest.approx(se_exact, rel=1e-12)
    beta = abs(ARTICLE["trttreat:sexmale"])
    expected = (0.5 * math.erfc(-(beta / se_exact - 1.959963984540054) / math.sqrt(2))
                + 0.5 * math.erfc((beta / se_exact + 1.959963984540054) / math.sqrt(2)))
    assert approx["power"].iloc[0] == pytest.approx(expected, rel=1e-9)


def test_approximate_power_of_a_null_effect_is_alpha():
    out = power.approximate_power([8, 100, 1000], coefs=NULL, alpha=0.05)
    assert np.allclose(out["power"], 0.05)


def test_mc_standard_error():
    assert power.mc_standard_error(0.8, 400) == pytest.approx(0.02)
    assert np.allclose(power.mc_standard_error(np.array([0.5, 0.0]), 100), [0.05, 0.0])


# ----------------------------------------------------------------------------- simulation


def test_same_seed_same_result_whatever_n_jobs_and_chunks():
    kw = dict(nsim=10, seed=5, progress=False)
    one = power.power_curve([12, 20], n_jobs=1, chunk_size=4, **kw)
    two = power.power_curve([12, 20], n_jobs=2, chunk_size=3, **kw)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    pd.testing.assert_frame_equal(one.table, two.table)
    again = power.power_curve([20], n_jobs=1, **kw)  # a size does not depend on the others
    pd.testing.assert_frame_equal(again.draws,
                                  one.draws[one.draws["n_subjects"] == 20].reset_index(drop=True))
    other = power.power_curve([12, 20], n_jobs=1, nsim=10, seed=6, progress=False)
    assert not np.allclose(other.draws["estimate"], one.draws["estimate"])


def test_lrt_is_reproducible_across_n_jobs_and_close_to_wald():
    kw = dict(nsim=8, seed=11, progress=False, test="lrt")
    one = power.power_curve([24], n_jobs=1, **kw)
    two = power.power_curve([24], n_jobs=2, chunk_size=3, **kw)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    wald = power.power_curve([24], nsim=8, seed=11, progress=False)
    # the same simulated studies: the same estimates, and the two tests mostly agree
    assert np.allclose(one.draws["estimate"], wald.draws["estimate"], atol=1e-4)
    assert (one.draws["reject"] == wald.draws["reject"]).mean() >= 0.75
    assert one.settings["null_formula"] == "y ~ (trt + sex)^1 + (1|id)"


def test_type_one_error_is_near_the_nominal_level():
    # a null interaction: the rejection rate estimates the test's level, 0.05
    res = power.power_curve([40], coefs=NULL, sd=0.03, nsim=400, seed=2024, n_jobs=2,
                            progress=False)
    row = res.table.iloc[0]
    assert row.n_failed == 0
    assert abs(row.power - 0.05) <= 3 * math.sqrt(0.05 * 0.95 / 400)
    assert row.lower <= 0.05 <= row.upper


def test_power_matches_the_large_sample_formula_where_it_applies():
    # tiny SD: the GLMM is practically a logistic regression, where the Wald test's
    # large-sample power is accurate
    res = power.power_curve([32], sd=0.03, nsim=300, seed=7, n_jobs=2, progress=False)
    approx = power.approximate_power(32, sd=0.03)["power"].iloc[0]
    row = res.table.iloc[0]
    assert abs(row.power - approx) <= 3 * math.sqrt(approx * (1 - approx) / 300) + 0.01
    assert res.smallest_n(0.5) == 32 and res.smallest_n(0.99) is None


def test_failed_fits_are_counted_not_hidden(monkeypatch):
    from glmmteach.model.results import GlmerResult

    def broken(self, *args, **kwargs):
        raise np.linalg.LinAlgError("simulated failure")

    monkeypatch.setattr(GlmerResult, "refit", broken)
    res = power.power_curve([12], nsim=5, seed=1, progress=False)
    row = res.table.iloc[0]
    assert row.n_failed == 5 and row.nsim == 5 and np.isnan(row.power)
    assert res.draws["error"].str.contains("simulated failure").all()


def test_result_table_and_summary_columns():
    res = power.power_curve([16, 24], nsim=6, seed=3, progress=False)
    assert list(res.table.columns) == ["n_subjects", "nsim", "n_failed", "n_singular",
                                       "n_not_converged", "rejections", "power", "mc_se",
                                       "lower", "upper"]
    summary = res.summary()
    assert "approx" in summary.columns and len(summary) == 2
    assert (res.table["lower"] <= res.table["power"]).all()
    assert (res.table["power"] <= res.table["upper"]).all()
    assert res.settings["entropy"] == 3
    assert "PowerResult" in repr(res)


@pytest.mark.parametrize("kwargs, words", [
    (dict(nsim=0), "nsim"),
    (dict(alpha=1.5), "alpha"),
    (dict(test="t"), "test"),
    (dict(term="trtplacebo"), "term"),
    (dict(term="trttreat", test="lrt"), "highest-order"),
    (dict(n_jobs=0), "n_jobs"),
    (dict(sd=-1.0), "sd"),
    (dict(seed=-3), "seed"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_bad_arguments_raise_value_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        power.power_curve([12], progress=False, **kwargs)


@pytest.mark.parametrize("sizes", [[], [0], [12, 12], ["12"], None])
def test_bad_sizes_raise(sizes):
    with pytest.raises(ValueError, match="n_subjects"):
        power.power_curve(sizes, progress=False)


# ----------------------------------------------------------------------------- figures, widget


def test_plots_label_their_axes(tmp_path):
    import matplotlib.pyplot as plt

    res = power.power_curve([16, 24], nsim=6, seed=3, progress=False)
    ax = power.plot_power_curves([res, res], labels=["a", "b"])
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    ax.figure.savefig(tmp_path / "curve.png")
    ax = power.plot_z_distribution(res, 16)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    with pytest.raises(ValueError, match="not among"):
        power.plot_z_distribution(res, 99)
    plt.close("all")


def test_explorer_slider_changes_the_summary():
    res = power.power_curve([16, 24, 32], nsim=6, seed=3, progress=False)
    box = power.power_explorer(res)
    slider, summary, _ = box.children
    before = summary.value
    slider.value = 32 if slider.value != 32 else 16
    assert summary.value != before
    assert f"<b>{slider.value} subjects</b>" in summary.value


@pytest.mark.parametrize("sd", [0.0, 0.5])
def test_fast_response_draws_equal_simulate_logit_scale(sd):
    spec = power._Spec(n_days=5, factors=tuple((k, tuple(v)) for k, v in
                                               simulate.ARTICLE_FACTORS.items()),
                       coefs=tuple(ARTICLE.items()), sd=sd, term="trttreat:sexmale",
                       test="wald", alpha=0.05, entropy=99)
    template = power._templates(spec, 10)
    design = power.balanced_design(10, n_days=5)
    for seq in np.random.SeedSequence(4).spawn(3):
        fast = power._simulate_response(template, sd, seq)
        slow = simulate.simulate_logit_scale(design, ARTICLE, sd=sd,
                                             seed=np.random.default_rng(seq))
        assert np.array_equal(fast, slow["y"].to_numpy(dtype=float))
