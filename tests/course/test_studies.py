"""The lessons' simulation studies: seeded, honest Monte-Carlo errors, known answers recovered.

Reference values are the simulations' truths (simulation recovery), not our own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from glmmteach import simulate
from glmmteach.course import studies

TRUTH = float(simulate.ARTICLE_LOGIT_COEFS["trttreat"])


def test_refit_study_recovers_the_truth_and_its_mc_error_is_the_se_of_a_mean():
    out = studies.refit_study([0.5], nsim=12, n_subjects=120, seed=3, progress=False)
    row = out.iloc[0]
    assert row["truth"] == pytest.approx(TRUTH)
    # the GLMM is consistent for the subject-specific effect: within 4 MC SEs of the truth
    assert abs(row["glmer_est"] - TRUTH) < 4 * row["glmer_est_mc"]
    # the MC error of a mean of 12 values is their SD / sqrt(12)
    assert row["glmer_est_mc"] == pytest.approx(row["glmer_sd_of_est"] / math.sqrt(12))
    # the GLM's SE ignores the clustering: smaller than the GLMM's
    assert row["glm_se"] < row["glmer_se"]


def test_studies_are_reproducible_with_a_seed_and_differ_without():
    a = studies.agq_study(sd=1.0, n_groups=30, n_per=4, nsim=6, seed=11, progress=False)
    b = studies.agq_study(sd=1.0, n_groups=30, n_per=4, nsim=6, seed=11, progress=False)
    c = studies.agq_study(sd=1.0, n_groups=30, n_per=4, nsim=6, seed=12, progress=False)
    assert a.equals(b)
    assert not np.allclose(a["mean_sd"], c["mean_sd"])
    assert a["diff_vs_last"].iloc[-1] == 0.0


def test_coverage_study_counts_every_interval():
    out = studies.coverage_study(nsim=10, n_subjects=40, sd=0.5, seed=5, progress=False)
    assert list(out["method"]) == ["wald", "profile"]
    for row in out.itertuples():
        assert row.n == 10
        assert 0 <= row.coverage <= 1
        misses = row.misses_below + row.misses_above
        assert misses == pytest.approx(row.n * (1 - row.coverage))
        assert row.coverage_mc == pytest.approx(
            math.sqrt(row.coverage * (1 - row.coverage) / row.n))
