"""The structured factorization of H = Lambda'Z'WZLambda + I against dense numpy algebra.

Every reference is computed from the dense matrix with numpy (slogdet, solve, inv) or by
central finite differences of the deviance; none is the factorization's own output.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from glmmteach.model.deviance import LaplaceDeviance
from glmmteach.model.family import Binomial
from glmmteach.model.reterms import BlockedFactor, REStructure, StructurePlan


def _term(group, codes, X, nlev):
    return SimpleNamespace(group=group, codes=np.asarray(codes), levels=pd.Index(range(nlev)),
                           X=np.asarray(X, dtype=float),
                           cnms=tuple(f"c{i}" for i in range(X.shape[1])))


def _terms(kind: str, rng: np.random.Generator, n: int = 240):
    """Random small designs of the shapes the factorization distinguishes."""
    x = rng.normal(size=n)
    one = np.ones((n, 1))
    slope = np.column_stack([one, x])
    if kind == "crossed":
        return [_term("a", rng.integers(0, 20, n), one, 20),
                _term("b", rng.integers(0, 7, n), one, 7)]
    if kind == "crossed_slopes":
        return [_term("a", rng.integers(0, 15, n), slope, 15),
                _term("b", rng.integers(0, 6, n), slope, 6)]
    if kind == "nested":
        inner = rng.integers(0, 40, n)
        return [_term("o:i", inner, one, 40), _term("o", inner % 6, one, 6)]
    if kind == "nested_slope":
        inner = rng.integers(0, 30, n)
        return [_term("o:i", inner, one, 30), _term("o", inner % 5, slope, 5)]
    if kind == "three_level":
        c = rng.integers(0, 60, n)
        return [_term("c", c, slope, 60), _term("b", c % 12, one, 12), _term("a", c % 4, one, 4)]
    if kind == "verbagg_like":  # (1|id:btype) + (1|id) + (1|item): nested and crossed
        idc, item = rng.integers(0, 25, n), rng.integers(0, 9, n)
        return [_term("id:btype", idc * 3 + item % 3, one, 75), _term("id", idc, one, 25),
                _term("item", item, one, 9)]
    if kind == "three_crossed":
        return [_term("a", rng.integers(0, 25, n), one, 25),
                _term("b", rng.integers(0, 10, n), slope, 10),
                _term("c", rng.integers(0, 4, n), one, 4)]
    if kind == "crossed_wide":  # a dense part wider than one 256-column panel
        n = 2_000
        return [_term("a", rng.integers(0, 400, n), np.ones((n, 1)), 400),
                _term("b", rng.integers(0, 300, n), np.ones((n, 1)), 300)]
    if kind == "unobserved_level":  # level 7 of `b` and level 0 of `a` have no rows
        a = rng.integers(1, 12, n)
        b = rng.integers(0, 7, n)
        return [_term("a", a, slope, 12), _term("b", b, one, 8)]
    raise ValueError(kind)


KINDS = ["crossed", "crossed_slopes", "nested", "nested_slope", "three_level", "verbagg_like",
         "three_crossed", "unobserved_level", "crossed_wide"]


def _dense(re: REStructure, Zt, w):
    """The dense Z Lambda (n x q) and H from the definition."""
    Z = np.zeros((re.n, re.q))
    rows = np.arange(re.n)
    for b, Zb in zip(re.blocks, Zt):
        qb = b.X.shape[1]
        for c in range(qb):
            Z[rows, b.offset + b.codes * qb + c] = Zb[:, c]
    return Z, Z.T @ (w[:, None] * Z) + np.eye(re.q)


def _setup(kind, seed, zero_theta=False):
    rng = np.random.default_rng(seed)
    re = REStructure(_terms(kind, rng))
    theta = rng.uniform(0.3, 1.5, re.n_theta) * np.where(np.isfinite(re.lower), 1.0, 0.4)
    if zero_theta:
        theta[0] = 0.0  # a boundary fit: the first block's column vanishes
    w = rng.uniform(0.02, 0.25, re.n)
    w[:5] = 0.0  # rows without information (no trials)
    return rng, re, re.ztilde(theta), w


@pytest.mark.parametrize("dense_products", [None, False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_factor_matches_dense_algebra(kind, dense_products):
    rng, re, Zt, w = _setup(kind, seed=KINDS.index(kind))
    F = BlockedFactor(StructurePlan(re.blocks, re.n, dense_products=dense_products), Zt, w)
    Z, H = _dense(re, Zt, w)
    Hinv = np.linalg.inv(H)
    assert F.logdet == pytest.approx(np.linalg.slogdet(H)[1], rel=1e-12, abs=1e-10)
    rhs = rng.normal(size=(re.q, 3))
    np.testing.assert_allclose(F.solve(rhs), np.linalg.solve(H, rhs), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.solve(rhs[:, 1]), np.linalg.solve(H, rhs[:, 1]),
                               rtol=1e-10, atol=1e-12)
    # selected inverse: R_i = (H^{-1} z_i) at observation i's own levels; diagonal blocks
    HZ = Hinv @ Z.T
    rows = np.arange(re.n)
    for b, Rb, Cb in zip(re.blocks, F.leverage(), F.cond_var()):
        qb = b.X.shape[1]
        for c in range(qb):
            np.testing.assert_allclose(Rb[:, c], HZ[b.offset + b.codes * qb + c, rows],
                                       rtol=1e-10, atol=1e-13)
        ref = np.stack([Hinv[b.offset + j * qb: b.offset + (j + 1) * qb,
                             b.offset + j * qb: b.offset + (j + 1) * qb] for j in range(b.nlev)])
        np.testing.assert_allclose(Cb, ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", ["crossed", "verbagg_like", "nested_slope"])
def test_factor_at_a_boundary_theta(kind):
    """theta = 0 for one column: H keeps its pattern, the algebra stays exact."""
    _, re, Zt, w = _setup(kind, seed=11, zero_theta=True)
    F = re.factorize(Zt, w)
    Z, H = _dense(re, Zt, w)
    assert F.logdet == pytest.approx(np.linalg.slogdet(H)[1], rel=1e-12, abs=1e-10)
    m = sum(np.einsum("ij,ij->i", Zb, Rb) for Zb, Rb in zip(Zt, F.leverage()))
    np.testing.assert_allclose(m, np.einsum("ij,jk,ik->i", Z, np.linalg.inv(H), Z),
                               rtol=1e-10, atol=1e-13)


def test_elimination_order_follows_the_structure():
    rng = np.random.default_rng(3)
    # nested: inner factor, then the one it nests in; nothing dense
    re = REStructure(_terms("three_level", rng))
    plan = StructurePlan(re.blocks, re.n)
    assert [re.blocks[i].group for i in plan.order] == ["c", "b", "a"]
    assert plan.dense_blocks == []
    # VerbAgg's three terms: id:btype, then id (nested), item dense
    re = REStructure(_terms("verbagg_like", rng))
    plan = StructurePlan(re.blocks, re.n)
    assert [re.blocks[i].group for i in plan.order] == ["id:btype", "id"]
    assert [re.blocks[i].group for i in plan.dense_blocks] == ["item"]
    # crossed: the larger factor eliminated, the other dense
    re = REStructure(_terms("crossed", rng))
    plan = StructurePlan(re.blocks, re.n)
    assert [re.blocks[i].group for i in plan.order] == ["a"]


def test_crossed_factors_beyond_memory_are_refused_before_numerical_work():
    rng = np.random.default_rng(4)
    n = 24_000
    a = np.repeat(np.arange(12_000), 2)  # eliminated first
    b = rng.permutation(np.arange(n) % 10_000)  # crossed with a: a dense 10,000 x 10,000 block
    one = np.ones((n, 1))
    with pytest.raises(ValueError, match=r"'b'.*too large.*10000 x 10000"):
        REStructure([_term("a", a, one, 12_000), _term("b", b, one, 10_000)])


def test_large_nested_design_has_no_dense_part():
    """50,000 inner levels in 5,000 outer ones: no cap, nothing dense."""
    rng = np.random.default_rng(5)
    n = 120_000
    inner = np.concatenate([np.arange(50_000), rng.integers(0, 50_000, n - 50_000)])
    one = np.ones((n, 1))
    re = REStructure([_term("o:i", inner, one, 50_000), _term("o", inner // 10, one, 5_000)])
    F = re.factorize(re.ztilde(np.array([0.8, 0.5])), np.full(n, 0.2))
    # closed form: after eliminating the inner levels, H for the outer ones is diagonal
    t1, t2 = 0.8, 0.5
    cnt = np.bincount(inner, minlength=50_000) * 0.2
    a = 1.0 + t1 * t1 * cnt
    s = 1.0 + np.bincount(np.arange(50_000) // 10, weights=t2 * t2 * cnt - (t1 * t2 * cnt) ** 2 / a)
    assert F.logdet == pytest.approx(np.sum(np.log(a)) + np.sum(np.log(s)), rel=1e-12)


def _design(kind, seed):
    rng = np.random.default_rng(seed)
    terms = _terms(kind, rng, n=300)
    n = terms[0].X.shape[0]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.binomial(2, 0.4, n) / 2.0
    return SimpleNamespace(X=X, y=y, trials=np.full(n, 2.0), offset=np.zeros(n),
                           terms=tuple(terms), xnames=("(Intercept)", "x"))


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("kind", ["nested_slope", "verbagg_like", "three_crossed"])
def test_laplace_gradient_matches_finite_differences(kind, link):
    dev = LaplaceDeviance(_design(kind, seed=7), Binomial(link))
    phi = dev.start()
    phi[: dev.n_theta] = np.where(np.isfinite(dev.re.lower), 0.7, 0.2)
    _, g = dev.value_and_grad(phi)
    fd = np.empty_like(phi)
    for j in range(len(phi)):
        h = 1e-5 * max(1.0, abs(phi[j]))
        up, dn = phi.copy(), phi.copy()
        up[j] += h
        dn[j] -= h
        fd[j] = (dev(up) - dev(dn)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("collinear", [False, True])
def test_glm_start_is_the_binomial_maximum_likelihood(collinear):
    """glm_irls (normal equations, least squares when near-singular) against scipy's BFGS."""
    from scipy import optimize, stats

    from glmmteach.model.pirls import glm_irls

    rng = np.random.default_rng(21)
    n = 400
    x = rng.normal(size=n)
    x2 = x + (1e-7 * rng.normal(size=n) if collinear else rng.normal(size=n))
    X = np.column_stack([np.ones(n), x, x2])
    trials = rng.integers(0, 4, n).astype(float)  # some rows without trials
    k = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-(0.2 + 0.6 * x))))
    y = np.divide(k, trials, out=np.zeros(n), where=trials > 0)
    beta = glm_irls(X, y, trials, np.zeros(n), Binomial())

    def nll(b):
        return -np.sum(stats.binom.logpmf(k, trials.astype(int), 1 / (1 + np.exp(-X @ b))))

    ref = optimize.minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).x
    if collinear:  # nearly unidentified: at least as good a likelihood as BFGS reaches
        assert np.all(np.isfinite(beta))
        assert nll(beta) <= nll(ref) + 1e-6
    else:
        np.testing.assert_allclose(beta, ref, atol=2e-5)
