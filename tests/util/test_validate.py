"""The shared argument checks of the functions that take a fitted model
(``glmmteach._validate.check_nsim``, ``check_fitted_model``, ``check_seed``).

Closed-form expectations only: which values pass (and what they are normalized to) and which
raise, with a message that names the argument.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from crosscheck_models import CASES_BY_NAME

import glmmteach
from glmmteach._util.validate import check_nsim, check_seed
from glmmteach.model.results import check_fitted_model


@pytest.fixture(scope="module")
def model():
    c = CASES_BY_NAME["cbind_counts"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glmmteach.warnings.SingularFitWarning)
        return glmmteach.glmer(c.formula, c.make_data())


# --------------------------------------------------------------------------------------------
# check_nsim
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nsim", [1, 7, 1000, np.int64(12), np.int32(3)])
def test_nsim_accepts_whole_numbers(nsim):
    out = check_nsim(nsim)
    assert out == int(nsim) and type(out) is int


@pytest.mark.parametrize("nsim", [0, -3, 2.5, 10.0, "10", None, True, False, [5]])
def test_nsim_rejects(nsim):
    with pytest.raises(ValueError, match=r"^nsim"):
        check_nsim(nsim)


def test_nsim_message_names_the_argument():
    with pytest.raises(ValueError, match=r"^n_boot must be a whole number >= 1, not 2\.5"):
        check_nsim(2.5, argument="n_boot")
    with pytest.raises(ValueError, match=r"^n_boot=0: at least 1"):
        check_nsim(0, argument="n_boot")


# --------------------------------------------------------------------------------------------
# check_fitted_model
# --------------------------------------------------------------------------------------------


def test_fitted_model_passes_and_is_returned(model):
    assert check_fitted_model(model) is model


@pytest.mark.parametrize("bad", [None, "y ~ x + (1 | g)", pd.DataFrame({"x": [1]}), 3.0])
def test_fitted_model_rejects(bad):
    with pytest.raises(TypeError, match=r"^model must be a fitted model from glmmteach\.glmer"):
        check_fitted_model(bad)
    with pytest.raises(TypeError, match=rf"^fit must be .* not {type(bad).__name__}$"):
        check_fitted_model(bad, argument="fit")


def test_public_functions_use_it():
    from glmmteach.inference.equation import model_equation
    from glmmteach.inference.interpret import cell_probabilities, fit_gee, marginal_probabilities
    from glmmteach.inference.intervals import bootstrap, confint

    for f in (confint, bootstrap, cell_probabilities, marginal_probabilities, fit_gee,
              model_equation):
        with pytest.raises(TypeError, match=r"^m must be a fitted model"):
            f("not a model")


# --------------------------------------------------------------------------------------------
# check_seed
# --------------------------------------------------------------------------------------------


def test_seed_accepts():
    assert check_seed(None) is None
    assert check_seed(0) == 0
    out = check_seed(np.int64(42))
    assert out == 42 and type(out) is int
    g = np.random.default_rng(1)
    state = g.bit_generator.state
    assert check_seed(g) is g
    assert g.bit_generator.state == state  # validating draws nothing from the Generator
    ss = np.random.SeedSequence(5)
    assert check_seed(ss) is ss


@pytest.mark.parametrize("seed", [-1, 1.5, 3.0, "7", True, [1, 2], np.random.RandomState(0)])
def test_seed_rejects(seed):
    with pytest.raises(ValueError, match=r"^seed must be None, a whole number >= 0"):
        check_seed(seed)
    with pytest.raises(ValueError, match=r"^random_state must be"):
        check_seed(seed, argument="random_state")


# --------------------------------------------------------------------------- issue 13 checks

def test_check_columns_exist_suggests_the_other_case():
    from glmmteach._util.validate import check_columns_exist

    with pytest.raises(ValueError, match="did you mean 'Age'"):
        check_columns_exist(["age"], ["Age", "y"])


def test_check_enough_rows_and_has_rows():
    from glmmteach._util.validate import check_enough_rows, check_has_rows

    with pytest.raises(ValueError, match="has no rows"):
        check_has_rows(0)
    with pytest.raises(ValueError, match="no rows left after dropping the 3 rows"):
        check_enough_rows(0, 3)
    with pytest.raises(ValueError, match="too few rows: the data have 1 row"):
        check_enough_rows(1)
    check_has_rows(1)
    check_enough_rows(2)


def test_check_unique_columns_names_only_used_duplicates():
    from glmmteach._util.validate import check_unique_columns

    check_unique_columns(["y", "x"], ["y", "x", "u", "u"])  # an unused duplicate is fine
    with pytest.raises(ValueError, match=r"'x' \(3 times\)"):
        check_unique_columns(["y", "x"], ["y", "x", "x", "x"])


def test_check_magnitude_threshold():
    from glmmteach._util.validate import MAX_ABS_PREDICTOR, check_magnitude

    check_magnitude(np.array([1.0, -MAX_ABS_PREDICTOR / 2]), "x")
    with pytest.raises(ValueError, match=r"'x'.*1 row \(positions 1\).*Rescale"):
        check_magnitude(np.array([1.0, -MAX_ABS_PREDICTOR]), "x")


def test_check_response_not_mixed():

    from glmmteach._util.validate import check_response_not_mixed

    check_response_not_mixed(pd.Series(["a", "b", None], dtype=object), "y")
    check_response_not_mixed(pd.Series([0, 1, 1]), "y")
    with pytest.raises(ValueError, match=r"mixes number and string values: 0, 1, '1'"):
        check_response_not_mixed(pd.Series([0, 1, "1", 1], dtype=object), "y")


def test_constant_clusters_and_group_separation_message():
    from glmmteach._util.validate import constant_clusters, group_separation_message

    codes = np.array([0, 0, 1, 1, 2, 2])
    s = np.array([0, 0, 1, 1, 1, 0.0])
    zero, one = constant_clusters(s, 1 - s, codes, 3)
    assert zero.tolist() == [True, False, False] and one.tolist() == [False, True, False]
    assert group_separation_message(s, 1 - s, codes, ["a", "b", "c"], "g") is None
    s2 = np.array([0, 0, 1, 1, 0, 0.0])
    msg = group_separation_message(s2, 1 - s2, codes, ["a", "b", "c"], "g")
    assert "2 all 0 ('a', 'c') and 1 all 1 ('b')" in msg and "not identified" in msg


def test_zapsmall_ignores_nan():
    from glmmteach._util.rformat import zapsmall

    out = zapsmall(np.array([np.nan, 1e-9, 1.234567]), 3)
    assert np.isnan(out[0]) and out[1] == 0.0 and out[2] == pytest.approx(1.23)
    assert np.isnan(zapsmall(np.array([np.nan, np.nan]), 3)).all()
