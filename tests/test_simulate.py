"""Tests for glmmteach.simulate: logit helpers, cell tables, coefficients, and generators.

Reference numbers come from R (live through Rscript, skipped when R is absent; or the
article's printed output), closed forms, or simulation recovery.
"""

from __future__ import annotations

import subprocess
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from roracle import find_rscript

from glmmteach import simulate as sim
from glmmteach.rcompat import RRandom
from glmmteach.warnings import ImpossibleProbabilityWarning

DATA = Path(__file__).parent / "data"


# --------------------------------------------------------------------------------------------
# logit / inv_logit
# --------------------------------------------------------------------------------------------


def test_logit_closed_form_and_r_aliases():
    assert sim.logit(0.5) == 0.0
    assert sim.logit(0.75) == pytest.approx(np.log(3.0), abs=1e-15)
    assert sim.qlogis is sim.logit
    assert sim.plogis is sim.inv_logit
    # R's printed plogis values from the article (plogis(-0.30840), plogis(1.87995), ...).
    assert round(sim.plogis(-0.30840), 7) == 0.4235053
    assert round(sim.plogis(1.87995), 7) == 0.8676054
    assert round(sim.plogis(-0.9428), 7) == 0.2803351
    assert round(sim.plogis(0.02886), 7) == 0.5072145


def test_logit_and_inverse_are_inverses_and_keep_type():
    p = np.array([0.001, 0.3, 0.5, 0.85, 0.999])
    np.testing.assert_allclose(sim.inv_logit(sim.logit(p)), p, rtol=1e-13)
    s = pd.Series([0.2, 0.4], index=["a", "b"], name="prob")
    out = sim.logit(s)
    assert isinstance(out, pd.Series)
    assert list(out.index) == ["a", "b"]
    assert isinstance(sim.logit(0.2), float)
    assert isinstance(sim.inv_logit([0.0, 1.0]), np.ndarray)


def test_logit_boundaries_and_missing_values():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sim.logit(np.array([0.0, 1.0, np.nan]))
        assert out[0] == -np.inf and out[1] == np.inf and np.isnan(out[2])
        big = sim.inv_logit(np.array([-1000.0, 1000.0, -np.inf, np.inf]))
    np.testing.assert_array_equal(big, [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("bad", [-0.1, 1.2, [0.5, 2.0]])
def test_logit_rejects_values_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="p must be probabilities"):
        sim.logit(bad)


def test_logit_rejects_non_numbers():
    with pytest.raises(TypeError, match="p must be numeric"):
        sim.logit("half")
    with pytest.raises(TypeError, match="x must be numeric"):
        sim.inv_logit(True)


# --------------------------------------------------------------------------------------------
# cell tables and coefficients
# --------------------------------------------------------------------------------------------


def test_cell_table_accepts_r_order_sequence_mapping_and_series():
    from_seq = sim.cell_table([0.40, 0.85, 0.30, 0.50])
    from_map = sim.cell_table(sim.ARTICLE_CELL_PROBS)
    pd.testing.assert_series_equal(from_seq, from_map)
    assert list(from_seq.index) == [
        ("control", "female"), ("treat", "female"), ("control", "male"), ("treat", "male"),
    ]
    assert from_seq.index.names == ["trt", "sex"]
    # A Series whose MultiIndex has the factors in the other order is reordered.
    swapped = from_map.copy()
    swapped.index = swapped.index.swaplevel()
    pd.testing.assert_series_equal(sim.cell_table(swapped), from_map)


def test_cell_table_errors_name_the_cell():
    probs = dict(sim.ARTICLE_CELL_PROBS)
    del probs[("treat", "male")]
    with pytest.raises(ValueError, match="trt='treat', sex='male'"):
        sim.cell_table(probs, name="cell_probs")
    with pytest.raises(ValueError, match="'Treat'"):
        sim.cell_table({**sim.ARTICLE_CELL_PROBS, ("Treat", "male"): 0.5})
    with pytest.raises(ValueError, match="lists 3 values but the design has 4 cells"):
        sim.cell_table([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="finite number"):
        sim.cell_table([0.1, 0.2, float("nan"), 0.3])
    with pytest.raises(TypeError, match="mapping"):
        sim.cell_table(0.4)


def test_factor_validation():
    with pytest.raises(ValueError, match="at least two levels"):
        sim.coef_names({"trt": ["control"]})
    with pytest.raises(ValueError, match="repeated levels"):
        sim.coef_names({"trt": ["a", "a"]})
    with pytest.raises(ValueError, match="non-empty mapping"):
        sim.coef_names({})
    with pytest.raises(ValueError, match="cannot be a factor name"):
        sim.coef_names({"id": ["a", "b"]})


def test_probs_to_coefs_reproduces_the_article():
    coefs = sim.probs_to_coefs()
    assert list(coefs.index) == ["(Intercept)", "trttreat", "sexmale", "trttreat:sexmale"]
    # The article's values, printed to 7 significant digits.
    np.testing.assert_allclose(
        coefs.to_numpy(), [-0.4054651, 2.140066, -0.4418328, -1.292768], atol=5e-7
    )
    rounded = {k: float(f"{v:.7g}") for k, v in coefs.items()}
    assert rounded == sim.ARTICLE_LOGIT_COEFS


def test_probs_to_coefs_closed_form_2x2():
    lo = {cell: np.log(p / (1 - p)) for cell, p in sim.ARTICLE_CELL_PROBS.items()}
    coefs = sim.probs_to_coefs()
    cf, tf = lo[("control", "female")], lo[("treat", "female")]
    cm, tm = lo[("control", "male")], lo[("treat", "male")]
    assert coefs["(Intercept)"] == pytest.approx(cf, abs=1e-15)
    assert coefs["trttreat"] == pytest.approx(tf - cf, abs=1e-15)
    assert coefs["sexmale"] == pytest.approx(cm - cf, abs=1e-15)
    assert coefs["trttreat:sexmale"] == pytest.approx(tm - tf - cm + cf, abs=1e-15)


def test_coefs_round_trip_and_sequence_input():
    back = sim.coefs_to_probs(sim.probs_to_coefs())
    np.testing.assert_allclose(back.to_numpy(), [0.40, 0.85, 0.30, 0.50], atol=1e-15)
    seq = sim.coefs_to_probs([-0.4054651, 2.140066, -0.4418328, -1.292768])
    np.testing.assert_allclose(seq.to_numpy(), [0.40, 0.85, 0.30, 0.50], atol=1e-7)
    factors = {"a": ["x", "y", "z"], "b": ["u", "v"], "c": ["0", "1"]}
    probs = np.linspace(0.05, 0.95, 12)
    coefs = sim.probs_to_coefs(probs, factors)
    np.testing.assert_allclose(sim.coefs_to_probs(coefs, factors).to_numpy(), probs, atol=1e-14)


def test_coef_names_match_r_model_matrix():
    # colnames(model.matrix(~ a * b * c)) under R 4.2.2, levels a: x y z, b: u v w, c: 0 1.
    r_names = [
        "(Intercept)", "ay", "az", "bv", "bw", "c1", "ay:bv", "az:bv", "ay:bw", "az:bw",
        "ay:c1", "az:c1", "bv:c1", "bw:c1", "ay:bv:c1", "az:bv:c1", "ay:bw:c1", "az:bw:c1",
    ]
    factors = {"a": ["x", "y", "z"], "b": ["u", "v", "w"], "c": ["0", "1"]}
    assert sim.coef_names(factors) == r_names


def test_probs_to_coefs_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="strictly between 0 and 1.*treat.male"):
        sim.probs_to_coefs([0.4, 0.85, 0.3, 1.0])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        sim.probs_to_coefs([0.4, 1.3, 0.3, 0.5])


def test_coefs_to_probs_rejects_bad_coefficients():
    with pytest.raises(ValueError, match="no value for 'trttreat:sexmale'"):
        sim.coefs_to_probs({"(Intercept)": 0.0, "trttreat": 1.0, "sexmale": 0.0})
    with pytest.raises(ValueError, match="unknown coefficient 'trt'"):
        sim.coefs_to_probs({"(Intercept)": 0.0, "trt": 1.0})
    with pytest.raises(ValueError, match="lists 3 values"):
        sim.coefs_to_probs([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        sim.coefs_to_probs([0.0, np.inf, 0.0, 0.0])


def test_interaction_uses_r_level_order():
    frame = pd.DataFrame({"trt": ["treat", "control"], "sex": ["male", "female"]})
    out = sim.interaction(frame, ["trt", "sex"])
    assert list(out.categories) == [
        "control.female", "treat.female", "control.male", "treat.male",
    ]
    assert list(out) == ["treat.male", "control.female"]
    with pytest.raises(ValueError, match="column 'age'"):
        sim.interaction(frame, ["age"])


# --------------------------------------------------------------------------------------------
# make_design
# --------------------------------------------------------------------------------------------


def test_make_design_shape_order_and_types():
    d = sim.make_design(7, 3, seed=5)
    assert d.shape == (21, 4)
    assert list(d.columns) == ["id", "day", "trt", "sex"]
    assert d["id"].tolist() == [i for i in range(1, 8) for _ in range(3)]
    assert d["day"].tolist() == [1, 2, 3] * 7
    assert list(d["trt"].cat.categories) == ["control", "treat"]
    assert d.groupby("id")[["trt", "sex"]].nunique().eq(1).all().all()
    pd.testing.assert_frame_equal(d, sim.make_design(7, 3, seed=5))
    gen = np.random.default_rng(5)
    pd.testing.assert_frame_equal(d, sim.make_design(7, 3, seed=gen))


def test_make_design_r_stream_matches_article():
    ref = pd.read_csv(DATA / "r_vegetables.csv")
    d = sim.make_design(250, 14, seed=1, rng="r")
    assert (d["trt"].astype(str).to_numpy() == ref["trt"].to_numpy()).all()
    assert (d["sex"].astype(str).to_numpy() == ref["sex"].to_numpy()).all()
    assert (d["id"].to_numpy() == ref["id"].to_numpy()).all()
    assert (d["day"].to_numpy() == ref["day"].to_numpy()).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_subjects": 0}, "n_subjects must be a positive integer"),
        ({"n_subjects": -3}, "n_subjects must be a positive integer"),
        ({"n_subjects": 2.5}, "n_subjects must be a positive integer"),
        ({"n_subjects": True}, "n_subjects must be a positive integer"),
        ({"n_days": 0}, "n_days must be a positive integer"),
        ({"n_days": "14"}, "n_days must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"seed": 1.5}, "seed must be a non-negative int"),
        ({"seed": "1"}, "seed must be a non-negative int"),
        ({"seed": 2**31, "rng": "r"}, "at most 2\\*\\*31 - 1"),
        ({"seed": None, "rng": "r"}, "rng='r' needs an int seed"),
        ({"seed": np.random.default_rng(1), "rng": "r"}, "numpy Generator"),
        ({"seed": 1, "rng": "R"}, "rng must be 'numpy' or 'r'"),
    ],
)
def test_make_design_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sim.make_design(**kwargs)


# --------------------------------------------------------------------------------------------
# probability-scale simulation
# --------------------------------------------------------------------------------------------


def test_probability_scale_r_stream_matches_article():
    ref = pd.read_csv(DATA / "r_vegetables.csv")
    design = sim.make_design(250, 14, seed=1, rng="r")
    out = sim.simulate_probability_scale(design, seed=3, rng="r")
    np.testing.assert_allclose(out["p"].to_numpy(), ref["p"].to_numpy(), rtol=0, atol=1e-15)
    assert (out["y"].to_numpy() == ref["y"].to_numpy()).all()
    assert out["y"].dtype == np.int64
    assert out.attrs["n_impossible"] == 0 and out.attrs["impossible_ids"] == []
    # The design is not modified, and the output keeps its rows and columns.
    assert list(design.columns) == ["id", "day", "trt", "sex"]
    assert list(out.columns) == ["id", "day", "trt", "sex", "u", "p", "y"]


def test_probability_scale_structure():
    design = sim.make_design(30, 4, seed=2)
    out = sim.simulate_probability_scale(design, sd=0.02, seed=3)
    per_subject = out.groupby("id")[["u", "p"]].nunique()
    assert (per_subject == 1).all().all()
    cell = sim.cell_table(sim.ARTICLE_CELL_PROBS)
    keys = list(zip(out["trt"].astype(str), out["sex"].astype(str), strict=True))
    np.testing.assert_allclose(out["p"] - out["u"], cell.loc[keys].to_numpy(), atol=1e-15)
    assert set(out["y"].unique()) <= {0, 1}


def test_impossible_probabilities_warn_keep_p_and_set_y_missing():
    design = sim.make_design(200, 3, seed=4)
    with pytest.warns(ImpossibleProbabilityWarning, match=r"(\d+) of 200 subject") as record:
        out = sim.simulate_probability_scale(design, sd=0.3, seed=5)
    n_bad = out.attrs["n_impossible"]
    assert n_bad > 0
    assert f"{n_bad} of 200" in str(record[0].message)
    bad_rows = (out["p"] < 0) | (out["p"] > 1)
    # Nothing is clipped: impossible probabilities are kept as computed.
    assert out["p"].min() < 0 or out["p"].max() > 1
    assert out.loc[bad_rows, "id"].nunique() == n_bad
    assert sorted(out.attrs["impossible_ids"]) == sorted(out.loc[bad_rows, "id"].unique())
    assert out["y"].dtype == "Int64"
    assert out.loc[bad_rows, "y"].isna().all()
    assert out.loc[~bad_rows, "y"].notna().all()
    # Same numbers without the warning, and an error on request.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = sim.simulate_probability_scale(design, sd=0.3, seed=5, on_impossible="missing")
    pd.testing.assert_frame_equal(quiet, out)
    with pytest.raises(ValueError, match=f"{n_bad} of 200 subject probabilities"):
        sim.simulate_probability_scale(design, sd=0.3, seed=5, on_impossible="raise")


def test_expected_impossible_share_recovered_by_simulation():
    design = sim.make_design(40000, 1, seed=6)
    sd = 0.2
    out = sim.simulate_probability_scale(design, sd=sd, seed=7, on_impossible="missing")
    share = out.attrs["n_impossible"] / 40000
    counts = out.groupby(["trt", "sex"], observed=False).size()
    weights = {cell: counts.loc[cell] for cell in sim.ARTICLE_CELL_PROBS}
    expected = sim.expected_impossible_share(sd=sd, weights=weights)
    se = np.sqrt(expected * (1 - expected) / 40000)
    assert abs(share - expected) < 4 * se
    # Closed form at a few points.
    assert sim.expected_impossible_share(sd=0.0) == 0.0
    from scipy.stats import norm

    p = np.array([0.4, 0.85, 0.3, 0.5])
    closed = np.mean(norm.cdf(-p / 0.1) + norm.cdf((p - 1) / 0.1))
    assert sim.expected_impossible_share(sd=0.1) == pytest.approx(closed, rel=1e-14)


def test_probability_scale_recovers_cell_probabilities():
    design = sim.make_design(20000, 5, seed=8)
    out = sim.simulate_probability_scale(design, sd=0.03, seed=9)
    observed = out.groupby(["trt", "sex"], observed=True)["y"].mean()
    for cell, p in sim.ARTICLE_CELL_PROBS.items():
        assert observed.loc[cell] == pytest.approx(p, abs=0.012)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sd": -0.1}, "sd must be a non-negative finite number"),
        ({"sd": float("nan")}, "sd must be a non-negative finite number"),
        ({"sd": "0.1"}, "sd must be a non-negative number"),
        ({"cell_probs": [0.4, 1.2, 0.3, 0.5]}, "cell_probs must be probabilities in \\[0, 1\\]"),
        ({"cell_probs": [0.4, 0.8, -0.3, 0.5]}, "cell control.male has -0.3"),
        ({"on_impossible": "clip"}, "on_impossible must be"),
        ({"seed": -5}, "seed must be a non-negative int"),
    ],
)
def test_probability_scale_rejects_bad_input(kwargs, message):
    design = sim.make_design(5, 2, seed=1)
    with pytest.raises(ValueError, match=message):
        sim.simulate_probability_scale(design, **kwargs)


def test_design_levels_must_be_in_the_table():
    design = sim.make_design(5, 2, seed=1)
    design["sex"] = design["sex"].astype(str)
    design.loc[0, "sex"] = "other"
    with pytest.raises(ValueError, match="design column 'sex' has level 'other'"):
        sim.simulate_probability_scale(design, seed=1)
    with pytest.raises(ValueError, match="design has no column 'trt'"):
        sim.simulate_logit_scale(design.drop(columns="trt"), seed=1)
    with pytest.raises(TypeError, match="design must be a pandas DataFrame"):
        sim.simulate_logit_scale({"id": [1]}, seed=1)


# --------------------------------------------------------------------------------------------
# logit-scale simulation
# --------------------------------------------------------------------------------------------


def test_logit_scale_r_stream_continues_like_the_article():
    ref = pd.read_csv(DATA / "r_vegetables.csv")
    design = sim.make_design(250, 14, seed=1, rng="r")
    stream = RRandom(3)
    sim.simulate_probability_scale(design, seed=stream, rng="r")
    out = sim.simulate_logit_scale(design, seed=stream, rng="r")
    np.testing.assert_allclose(out["p"].to_numpy(), ref["p2"].to_numpy(), rtol=0, atol=1e-15)
    assert (out["y"].to_numpy() == ref["y2"].to_numpy()).all()


def test_logit_scale_never_leaves_the_unit_interval():
    design = sim.make_design(500, 2, seed=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sim.simulate_logit_scale(design, sim.probs_to_coefs(), sd=5.0, seed=11)
    assert out.attrs["n_impossible"] == 0
    assert ((out["p"] > 0) & (out["p"] < 1)).all()
    np.testing.assert_allclose(out["p"], sim.inv_logit(out["eta"] + out["u"]), rtol=1e-15)


def test_logit_scale_recovers_cell_probabilities_without_random_effect():
    design = sim.make_design(20000, 5, seed=12)
    out = sim.simulate_logit_scale(design, sim.probs_to_coefs(), sd=0.0, seed=13)
    assert (out["u"] == 0).all()
    observed = out.groupby(["trt", "sex"], observed=True)["y"].mean()
    for cell, p in sim.ARTICLE_CELL_PROBS.items():
        assert observed.loc[cell] == pytest.approx(p, abs=0.012)


def test_logit_scale_rejects_bad_input():
    design = sim.make_design(5, 2, seed=1)
    with pytest.raises(ValueError, match="sd must be"):
        sim.simulate_logit_scale(design, sd=-1)
    with pytest.raises(ValueError, match="unknown coefficient 'male'"):
        sim.simulate_logit_scale(design, {"male": 1.0}, seed=1)


# --------------------------------------------------------------------------------------------
# Against R, live: impossible probabilities, sd = 0, other cell tables, a 3 x 2 design
# --------------------------------------------------------------------------------------------

_R_SCRIPT = textwrap.dedent(
    """
    out_dir <- commandArgs(trailingOnly = TRUE)[1]
    n <- 40
    d <- expand.grid(id = seq(n), day = 1:5)
    set.seed(11)
    trt <- sample(c("control", "treat"), size = n, replace = TRUE)
    sex <- sample(c("female", "male"), size = n, replace = TRUE)
    d$trt <- trt[d$id]; d$sex <- sex[d$id]
    d <- d[order(d$id, d$day), ]; rownames(d) <- NULL
    probs <- c(0.10, 0.95, 0.05, 0.60)
    d$p <- probs[interaction(d$trt, d$sex)]
    set.seed(12)
    d$p <- d$p + rnorm(n = n, mean = 0, sd = 0.25)[d$id]
    d$y <- suppressWarnings(rbinom(n = nrow(d), size = 1, prob = d$p))
    d$p2 <- plogis(-1 + 2 * (d$trt == "treat") + 0.5 * (d$sex == "male") +
                   -1.5 * (d$trt == "treat") * (d$sex == "male") +
                   rnorm(n = n, mean = 0, sd = 1.5)[d$id])
    d$y2 <- rbinom(n = nrow(d), size = 1, prob = d$p2)
    set.seed(13)
    d$p0 <- probs[interaction(d$trt, d$sex)] + rnorm(n = n, mean = 0, sd = 0)[d$id]
    d$y0 <- rbinom(n = nrow(d), size = 1, prob = d$p0)
    for (v in c("p", "p2", "p0")) d[[v]] <- sprintf("%.17g", d[[v]])
    write.csv(d, file.path(out_dir, "sim.csv"), row.names = FALSE, quote = FALSE)
    cells <- expand.grid(a = factor(c("x", "y", "z")), b = factor(c("u", "v")))
    cells$p <- c(0.2, 0.5, 0.7, 0.35, 0.9, 0.15)
    b <- coef(lm(qlogis(p) ~ a * b, data = cells))
    writeLines(paste(names(b), sprintf("%.17g", b), sep = ","), file.path(out_dir, "coef.csv"))
    """
)


@pytest.fixture(scope="module")
def r_output(tmp_path_factory):
    rscript = find_rscript()
    if rscript is None:
        pytest.skip("Rscript not found; install r-base-core to run the live R cross-checks")
    tmp = tmp_path_factory.mktemp("r_simulate")
    script = tmp / "simulate.R"
    script.write_text(_R_SCRIPT)
    proc = subprocess.run(
        [rscript, "--vanilla", str(script), str(tmp)], capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = pd.read_csv(tmp / "sim.csv", keep_default_na=True)
    coefs = pd.read_csv(tmp / "coef.csv", header=None, index_col=0).iloc[:, 0]
    return data, coefs


def test_r_impossible_probabilities_give_na_and_keep_the_stream(r_output):
    ref, _ = r_output
    design = sim.make_design(40, 5, seed=11, rng="r")
    stream = RRandom(12)
    with pytest.warns(ImpossibleProbabilityWarning):
        naive = sim.simulate_probability_scale(
            design, [0.10, 0.95, 0.05, 0.60], sd=0.25, seed=stream, rng="r"
        )
    assert naive.attrs["n_impossible"] > 0
    np.testing.assert_allclose(naive["p"].to_numpy(), ref["p"].to_numpy(), rtol=0, atol=1e-15)
    assert (naive["y"].isna().to_numpy() == ref["y"].isna().to_numpy()).all()
    ok = ref["y"].notna().to_numpy()
    assert (naive["y"].to_numpy()[ok] == ref["y"].to_numpy()[ok]).all()
    # R's rbinom draws nothing for NA rows, so the logit-scale continuation stays in step.
    logit = sim.simulate_logit_scale(design, [-1, 2, 0.5, -1.5], sd=1.5, seed=stream, rng="r")
    np.testing.assert_allclose(logit["p"].to_numpy(), ref["p2"].to_numpy(), rtol=0, atol=2e-15)
    assert (logit["y"].to_numpy() == ref["y2"].to_numpy()).all()


def test_r_zero_sd_draws_no_normals(r_output):
    ref, _ = r_output
    design = sim.make_design(40, 5, seed=11, rng="r")
    out = sim.simulate_probability_scale(design, [0.10, 0.95, 0.05, 0.60], sd=0.0, seed=13,
                                         rng="r")
    np.testing.assert_array_equal(out["p"].to_numpy(), ref["p0"].to_numpy())
    assert (out["y"].to_numpy() == ref["y0"].to_numpy()).all()


def test_r_saturated_coefficients_3x2(r_output):
    _, r_coefs = r_output
    factors = {"a": ["x", "y", "z"], "b": ["u", "v"]}
    coefs = sim.probs_to_coefs([0.2, 0.5, 0.7, 0.35, 0.9, 0.15], factors)
    assert list(coefs.index) == list(r_coefs.index)
    np.testing.assert_allclose(coefs.to_numpy(), r_coefs.to_numpy(), rtol=0, atol=1e-13)
