"""Numerical faults are flagged, and the fitted object stays usable (issue 13).

Five hard shapes of data: a singular fit, quasi-separation, two clusters, extremely unbalanced
clusters, tiny data with many parameters (and separation at the group level). Each warns with a
glmmteach warning class, returns finite or clearly flagged numbers, and its ``summary()``,
``glmmteach.confint(m)`` and ``predict()`` still work.

The profile intervals of the separated fits (quasi-separation, tiny data) take seconds each, so
those two ask for Wald intervals; the others use ``confint``'s default (profile).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmmteach as gt
from glmmteach import glmer
from glmmteach.warnings import (
    ConvergenceWarning,
    GroupSeparationWarning,
    SeparationWarning,
    SingularFitWarning,
)

G8 = np.repeat(np.arange(8), 6)
X48 = np.round(np.linspace(-2, 2, 48) * np.tile([1, -1], 24), 3)


def _cluster_response(ones):
    """0/1 response with ``ones[j]`` successes among the 6 rows of cluster j."""
    return np.concatenate([np.r_[np.ones(k), np.zeros(6 - k)][[0, 3, 1, 4, 2, 5]]
                           for k in ones]).astype(int)


def _usable(m, ci_method="profile"):
    """summary() prints, confint() gives a row per parameter, predict() is finite."""
    text = str(m.summary())
    assert "Fixed effects:" in text and "Random effects:" in text
    assert "Scaled residuals" in text
    ci = gt.confint(m, method=ci_method)
    assert list(ci.index)[-len(m.fixef):] == list(m.fixef.index)
    assert ci.shape[1] == 2
    for kind in ("link", "response"):
        p = m.predict(type=kind)
        assert np.isfinite(p).all()
    assert np.isfinite(m.predict(re_form="~0")).all()
    assert np.isfinite(m.simulate(1, seed=1).to_numpy()).all()
    return ci


def test_singular_fit():
    # the same pattern of outcomes in every cluster: no between-cluster variation at all
    d = pd.DataFrame({"y": np.tile([0, 1, 1, 0, 1, 0], 8), "x": X48, "g": G8})
    with pytest.warns(SingularFitWarning):
        m = glmer("y ~ x + (1 | g)", d)
    assert m.is_singular
    assert m.theta[0] == pytest.approx(0.0, abs=1e-4)
    assert np.isfinite(m.fixef).all() and np.isfinite(m.bse).all()
    assert "boundary (singular) fit" in str(m.summary())
    ci = _usable(m)
    # the SD's profile interval starts at 0 (the boundary) and is finite above
    lo, hi = ci.loc["sd_(Intercept)|g"]
    assert lo == pytest.approx(0.0, abs=1e-6) and np.isfinite(hi)


def test_quasi_separated():
    # every row of treatment b is a success: trtb diverges (quasi-complete separation)
    trt = np.tile(["a", "b"], 24)
    y = np.where(trt == "b", 1, _cluster_response([1, 5, 2, 4, 1, 5, 3, 2]))
    d = pd.DataFrame({"y": y, "trt": trt, "g": G8})
    with pytest.warns(ConvergenceWarning) as rec:
        m = glmer("y ~ trt + (1 | g)", d)
    sep = [w for w in rec if issubclass(w.category, SeparationWarning)]
    assert sep and "separated" in str(sep[0].message)
    # flagged in the result and its summary, not only in the warning
    assert any("separated" in s for s in m.optimizer_messages)
    assert "separated" in str(m.summary())
    assert m.fixef["trtb"] > 10  # diverging, not finite in the limit
    _usable(m, ci_method="wald")


def test_two_clusters_singular():
    # two clusters with the same proportion: the SD is estimated at the boundary
    d = pd.DataFrame({"y": np.tile([0, 1, 1, 0], 12), "x": X48, "g": np.repeat([0, 1], 24)})
    with pytest.warns(SingularFitWarning):
        m = glmer("y ~ x + (1 | g)", d)
    assert m.is_singular
    _usable(m)


def test_two_clusters_wide_interval():
    # two clusters that differ (1 in 4 vs 3 in 4): an SD is estimated, from one contrast,
    # and its profile interval spans more than an order of magnitude
    y = np.r_[np.tile([0, 0, 0, 1], 6), np.tile([1, 1, 1, 0], 6)]
    d = pd.DataFrame({"y": y, "x": X48, "g": np.repeat([0, 1], 24)})
    m = glmer("y ~ x + (1 | g)", d)
    assert np.isfinite(m.fixef).all() and m.theta[0] > 0.1
    ci = _usable(m)
    lo, hi = ci.loc["sd_(Intercept)|g"]
    assert 0 <= lo < hi and hi / max(lo, 1e-12) > 10


def test_extremely_unbalanced_clusters():
    # one cluster of 60 rows, eight clusters of one row each
    g = np.r_[np.zeros(60, int), np.arange(1, 9)]
    y = np.r_[np.tile([0, 1, 1, 0, 0], 12), [1, 0, 1, 1, 0, 1, 1, 1]]
    d = pd.DataFrame({"y": y, "x": np.linspace(-1, 1, 68), "g": g})
    with pytest.warns(SingularFitWarning):
        m = glmer("y ~ x + (1 | g)", d)
    assert np.isfinite(m.fixef).all() and np.isfinite(m.bse).all()
    assert m.ngrps == {"g": 9}
    re = m.ranef()["g"]
    assert np.isfinite(re.to_numpy()).all() and len(re) == 9
    _usable(m)


def test_tiny_data_with_many_parameters():
    # 6 rows, 4 fixed effects and a variance: the fitted probabilities reach 0 and 1
    d = pd.DataFrame({"y": [0, 1, 0, 1, 1, 0], "x": [1, 2, 3, 4, 5, 6.0],
                      "z": [1, 0, 1, 1, 0, 0.0], "g": [1, 1, 2, 2, 3, 3]})
    with pytest.warns(SeparationWarning):
        m = glmer("y ~ x * z + (1 | g)", d)
    assert m.df_resid == 1
    # the summary prints (it used to fail on NaN Pearson residuals in zapsmall)
    text = str(m.summary())
    assert "Scaled residuals" in text and "very large on the link scale" in text
    assert np.isfinite(np.asarray(m.residuals("pearson"))).all()
    ci = _usable(m, ci_method="wald")
    # the standard errors are huge: the intervals say "not identified"
    assert (ci.loc[list(m.fixef.index)].diff(axis=1).iloc[:, 1] > 1e3).all()


def test_group_level_separation():
    # every cluster all 0 or all 1: the SD is not identified; lme4 reports non-convergence
    y = _cluster_response([0, 6, 0, 6, 6, 0, 0, 6])
    d = pd.DataFrame({"y": y, "x": X48, "g": G8})
    with pytest.warns(ConvergenceWarning) as rec:
        m = glmer("y ~ x + (1 | g)", d)
    msgs = [str(w.message) for w in rec if issubclass(w.category, GroupSeparationWarning)]
    assert msgs, [str(w.message) for w in rec]
    assert "4 all 0 ('0', '2', '5', '6') and 4 all 1 ('1', '3', '4', '7')" in msgs[0]
    assert "not identified" in msgs[0]
    assert not m.converged
    assert "separation at the group level" in str(m.summary())
    _usable(m, ci_method="wald")


def test_some_constant_clusters_are_not_flagged():
    # a few clusters all 0 or all 1 is ordinary data: no group-separation warning
    y = _cluster_response([0, 6, 2, 4, 1, 5, 3, 2])
    d = pd.DataFrame({"y": y, "x": X48, "g": G8})
    m = glmer("y ~ x + (1 | g)", d)  # any glmmteach warning would be an error here
    assert m.converged
