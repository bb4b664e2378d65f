"""``Binomial.evaluate``, the hot loop of every fit, against closed forms in high precision.

The reference values are computed independently with Python's ``decimal`` at 60 digits from the
definitions (``mu = 1 / (1 + exp(-eta))``, ``l = k log(mu) + (n - k) log(1 - mu)``,
``s = k - n mu``, ``w = n mu (1 - mu)``, ``dw = w (1 - 2 mu)``), including the far tails where
``mu`` or ``1 - mu`` underflow in double precision.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pytest

from glmmteach.model.family import Binomial

ETA = np.array([-745.0, -300.0, -40.0, -20.0, -3.5, -1e-9, 0.0, 1e-9, 0.7, 3.5, 20.0, 40.0,
                300.0, 745.0])


def _reference(y, n, eta):
    with localcontext() as ctx:
        ctx.prec = 60
        one = Decimal(1)
        ll = Decimal(0)
        mu, s, w, dw = [], [], [], []
        for yi, ni, ei in zip(y, n, eta):
            e = Decimal(float(ei))
            m = one / (one + (-e).exp())
            om = one / (one + e.exp())
            nd = Decimal(float(ni))
            k = nd * Decimal(float(yi))
            if k > 0:
                ll += k * m.ln()
            if nd - k > 0:
                ll += (nd - k) * om.ln()
            wi = nd * m * om
            mu.append(float(m))
            s.append(float(k - nd * m))
            w.append(float(wi))
            dw.append(float(wi * (om - m)))
        return float(ll), np.array(mu), np.array(s), np.array(w), np.array(dw)


def _close(actual, expected):
    # relative accuracy where the value is representable, absolute near underflow
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("trials", ["binary_scalar", "binary_array", "counts"])
def test_logit_evaluate_matches_high_precision(trials):
    rng = np.random.default_rng(3)
    if trials == "counts":
        n = rng.integers(1, 9, size=ETA.size).astype(float)
        y = rng.integers(0, 9, size=ETA.size) % (n + 1) / n
    else:
        n = np.ones(ETA.size)
        y = (rng.random(ETA.size) < 0.5).astype(float)
    ll_ref, *ref = _reference(y, n, ETA)
    n_arg = 1.0 if trials == "binary_scalar" else n
    ll, *got = Binomial("logit").evaluate(y, n_arg, ETA)
    assert ll == pytest.approx(ll_ref, rel=1e-14)
    mu, score, w, dw = got
    _close(mu, ref[0])
    _close(w, ref[2])
    _close(dw, ref[3])
    # s = k - n mu cancels in the tails; its absolute error is that of n mu, ~1e-16 n
    np.testing.assert_allclose(score, ref[1], rtol=1e-13, atol=1e-15 * float(np.max(n)))


@pytest.mark.parametrize("link", ["probit", "cloglog", "cauchit"])
def test_scalar_trials_give_the_same_as_a_vector_of_ones(link):
    rng = np.random.default_rng(4)
    eta = rng.normal(0.0, 2.0, size=50)
    y = (rng.random(50) < 0.5).astype(float)
    fam = Binomial(link)
    a = fam.evaluate(y, 1.0, eta, logcoef=0.25)
    b = fam.evaluate(y, np.ones(50), eta, logcoef=np.full(50, 0.005))
    assert a[0] == pytest.approx(b[0], rel=1e-15)
    for x, z in zip(a[1:], b[1:]):
        np.testing.assert_array_equal(x, z)


def test_logcoef_sum_is_added_once():
    y, eta = np.array([1.0, 0.0]), np.array([0.0, 0.0])
    base = Binomial("logit").evaluate(y, 1.0, eta)[0]
    assert Binomial("logit").evaluate(y, 1.0, eta, logcoef=2.5)[0] == pytest.approx(base + 2.5)
    assert Binomial("logit").evaluate(y, 1.0, eta, logcoef=np.array([1.0, 1.5]))[0] == \
        pytest.approx(base + 2.5)


def test_any_scalar_trials_and_array_like_eta_are_accepted():
    fam = Binomial("logit")
    y = np.array([1.0, 0.2, 0.0])
    eta = [0, 1, -2]  # a list of ints
    ref = fam.evaluate(y, np.full(3, 5.0), np.array(eta, dtype=float))
    for n in (5.0, np.array(5.0), 5):
        got = fam.evaluate(y, n, eta)
        assert got[0] == pytest.approx(ref[0], rel=1e-15)
        for a, b in zip(got[1:], ref[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-15)
    one = fam.evaluate(1.0, 1.0, 0.3)  # a single row gives scalars
    ll_ref, mu_ref, *_ = _reference([1.0], [1.0], [0.3])
    assert one[0] == pytest.approx(ll_ref, rel=1e-14) and np.ndim(one[1]) == 0
    assert one[1] == pytest.approx(mu_ref[0], rel=1e-14)


def test_loglik_summed_without_cancellation_at_a_million_rows():
    import math

    rng = np.random.default_rng(5)
    eta = rng.normal(3.0, 2.0, size=1_000_000)
    y = (rng.random(eta.size) < 0.5).astype(float)
    # exact sum of per-row values (each row exact to rounding) as the reference
    ref = math.fsum((y * eta - np.logaddexp(0.0, eta)).tolist())
    ll = Binomial("logit").evaluate(y, 1.0, eta)[0]
    assert abs(ll - ref) <= 1e-15 * abs(ref)  # two separate large sums would miss this
