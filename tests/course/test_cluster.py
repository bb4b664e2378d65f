"""Power studies and bootstraps on a Dask cluster (the ``cluster`` extra).

``joblib.parallel_config(backend="dask")`` sends the seeded chunks of ``power_curve`` and
``bootstrap`` to a ``distributed`` cluster. The cluster here is a ``LocalCluster`` on this
machine (two single-threaded worker processes, loopback only, no dashboard). Every chunk
carries its own ``SeedSequence`` children, so the results must be identical, bit for bit,
to those of the default backend with the same seed (and to a serial run).
"""

from __future__ import annotations

import pandas as pd
import pytest

from glmmteach import bootstrap, glmer, simulate
from glmmteach.course import power

distributed = pytest.importorskip(
    "distributed", reason="the cluster extra is not installed (pip install glmmteach[cluster])")
joblib = pytest.importorskip("joblib")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as lc, distributed.Client(lc) as client:
        yield client


def _dask():
    return joblib.parallel_config(backend="dask")


def test_power_curve_on_dask_equals_the_default_backend(cluster):
    kw = dict(n_days=5, nsim=6, seed=11, progress=False, chunk_size=2)
    default = power.power_curve([12, 16], n_jobs=2, **kw)
    serial = power.power_curve([12, 16], n_jobs=1, **kw)
    with _dask(), distributed.get_task_stream(cluster) as stream:
        on_dask = power.power_curve([12, 16], n_jobs=2, **kw)
    pd.testing.assert_frame_equal(on_dask.draws, default.draws)
    pd.testing.assert_frame_equal(on_dask.table, default.table)
    pd.testing.assert_frame_equal(on_dask.draws, serial.draws)
    assert len(on_dask.draws) == 12
    assert len(stream.data) >= 6  # the 6 chunks really ran on the cluster's workers


def test_bootstrap_on_dask_equals_the_default_backend(cluster):
    design = simulate.make_design(n_subjects=40, n_days=8, seed=3)
    data = simulate.simulate_logit_scale(design, sd=1.5, seed=4)
    m = glmer("y ~ trt + sex + (1|id)", data)
    default = bootstrap(m, nsim=6, seed=21, n_jobs=2, progress=False)
    with _dask(), distributed.get_task_stream(cluster) as stream:
        on_dask = bootstrap(m, nsim=6, seed=21, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(on_dask.draws, default.draws)
    pd.testing.assert_series_equal(on_dask.t0, default.t0)
    assert on_dask.n_failed == default.n_failed
    assert len(on_dask.draws) == 6
    assert len(stream.data) >= 1
