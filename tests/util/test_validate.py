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
