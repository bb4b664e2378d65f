"""The per-subject Laplace integrand behind lesson 03's and 07's figures.

With one scalar random intercept the Laplace log-likelihood is a sum over subjects, so the
subjects' ``log_laplace`` values must add up to the fit's log-likelihood (itself checked
against lme4 in tests/test_real_datasets.py). A large random-effect SD (toenail: about 4.6)
makes plain Newton steps for a subject's mode overshoot into the flat tail; this caught that.
"""

from __future__ import annotations

import warnings

import pytest

from glmmteach import datasets, glmer
from glmmteach.diagnostics.plots import laplace_integrand


@pytest.fixture(scope="module")
def toenail_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glmer("outcome ~ treatment * time + (1 | patientID)", datasets.toenail())


def test_subject_laplace_terms_add_up_to_the_loglik(toenail_fit):
    m = toenail_fit
    total = sum(laplace_integrand(m, pid)[1]["log_laplace"]
                for pid in m.design.terms[0].levels)
    assert total == pytest.approx(m.loglik, abs=1e-6)


def test_mode_is_the_integrand_peak_for_a_subject_with_few_successes(toenail_fit):
    m = toenail_fit
    for pid in list(m.design.terms[0].levels)[:60]:
        curve, nums = laplace_integrand(m, pid)
        peak = curve.loc[curve["integrand"].idxmax(), "u"]
        step = curve["u"].iloc[1] - curve["u"].iloc[0]
        assert abs(peak - nums["mode"]) <= step, pid
        assert nums["log_laplace"] >= nums["log_exact"] - 5.0, pid


def test_group_test_by_a_column_that_is_also_a_unit_index_level():
    # per-(id, trt) residuals are indexed by id and trt; grouping them by trt must work and
    # give one test over the two treatment groups
    from glmmteach import checks

    m = glmer("y ~ trt * sex + (1 | id)", datasets.vegetables())
    res = checks.scaled_residuals(m, group=["id", "trt"], nsim=50, seed=1)
    out = checks.group_test(res, by=["trt"])
    assert 0.0 <= out.p_value <= 1.0
