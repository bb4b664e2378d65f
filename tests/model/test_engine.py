"""Engine stages tested alone: family, random-effects algebra, PIRLS, deviance, optimizer.

Reference values are closed forms (binomial pmf, Gaussian integrals), brute-force numerical
integration (scipy.integrate.quad) and finite differences; none is our own output.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fake_design import simulate_design
from scipy import integrate, optimize, stats

from glmmteach.model.deviance import AGQDeviance, LaplaceDeviance
from glmmteach.model.family import Binomial, as_family
from glmmteach.model.optimize import fit_laplace
from glmmteach.model.pirls import pirls
from glmmteach.model.reterms import REStructure

LINKS = ["logit", "probit", "cloglog"]


# ---------------------------------------------------------------------------- family
@pytest.mark.parametrize("link", LINKS)
def test_loglik_matches_scipy_binomial_pmf(link):
    fam = Binomial(link)
    rng = np.random.default_rng(1)
    n = rng.integers(1, 20, 50).astype(float)
    k = rng.integers(0, 1, 50) + np.floor(rng.uniform(0, 1, 50) * (n + 1))
    eta = rng.normal(size=50)
    mu = fam.linkinv(eta)
    ll = fam.loglik_obs(k / n, n, eta, fam.log_binom_coef(k / n, n))
    np.testing.assert_allclose(ll, stats.binom.logpmf(k, n, mu), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("link", LINKS)
def test_score_and_weights_are_derivatives(link):
    fam = Binomial(link)
    y, n = np.array([0.0, 1.0, 0.4]), np.array([1.0, 1.0, 5.0])
    eta = np.array([-0.7, 0.3, 1.1])
    h = 1e-6
    _, s, w, dw, w_obs = fam.working(y, n, eta, observed=True)
    ll = lambda e: fam.loglik_obs(y, n, e)  # noqa: E731
    np.testing.assert_allclose(s, (ll(eta + h) - ll(eta - h)) / (2 * h), rtol=1e-6)
    _, s_up, w_up, _, _ = fam.working(y, n, eta + h)
    _, s_dn, w_dn, _, _ = fam.working(y, n, eta - h)
    np.testing.assert_allclose(w_obs, -(s_up - s_dn) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(dw, (w_up - w_dn) / (2 * h), rtol=1e-6)
    # Fisher weight = expected information n mu'^2 / (mu (1 - mu))
    mu = fam.linkinv(eta)
    d1 = (fam.linkinv(eta + h) - fam.linkinv(eta - h)) / (2 * h)
    np.testing.assert_allclose(w, n * d1**2 / (mu * (1 - mu)), rtol=1e-6)


def test_family_rejects_other_families_and_links():
    with pytest.raises(ValueError, match="binomial"):
        as_family("poisson")
    with pytest.raises(ValueError, match="link"):
        Binomial("log")
    with pytest.raises(TypeError, match="family"):
        as_family(3)


# ---------------------------------------------------------------------------- PIRLS
@pytest.mark.parametrize("q,crossed", [(1, False), (2, False), (1, True)])
def test_pirls_mode_solves_the_penalized_score_equation(q, crossed):
    d = simulate_design(q=q, crossed=crossed)
    re = REStructure(d.terms)
    fam = Binomial()
    theta = np.where(np.isfinite(re.lower), 0.8, 0.1)
    Zt = re.ztilde(theta)
    st = pirls(re, Zt, fam, d.y, d.trials, d.X @ np.array([-0.3, 0.5, 0.8]), np.zeros(re.q), 0.0)
    # at the mode: Lambda'Z' s = u
    np.testing.assert_allclose(re.tprod(Zt, st.s), st.u, atol=1e-8)


def test_pirls_matches_direct_minimization():
    d = simulate_design(n_groups=15, per=6)
    re = REStructure(d.terms)
    fam = Binomial()
    theta = np.array([0.9])
    Zt = re.ztilde(theta)
    eta0 = d.X @ np.array([-0.3, 0.5, 0.8])
    st = pirls(re, Zt, fam, d.y, d.trials, eta0, np.zeros(re.q), 0.0)

    def pdev(u):
        return -2 * fam.loglik_obs(d.y, d.trials, eta0 + re.eta(Zt, u)).sum() + u @ u

    direct = optimize.minimize(pdev, np.zeros(re.q), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(st.u, direct.x, atol=1e-5)


# ---------------------------------------------------------------------------- deviance
def _fd_gradient(f, x, h=1e-5):
    g = np.empty_like(x)
    for j in range(len(x)):
        up, dn = x.copy(), x.copy()
        up[j] += h
        dn[j] -= h
        g[j] = (f(up) - f(dn)) / (2 * h)
    return g


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("q,crossed,trials", [(1, False, 1), (2, False, 1), (1, True, 3),
                                               (2, True, 1)])
def test_laplace_gradient_matches_finite_differences(link, q, crossed, trials):
    d = simulate_design(q=q, crossed=crossed, trials=trials)
    dev = LaplaceDeviance(d, Binomial(link))
    phi = dev.start()
    phi[: dev.n_theta] = np.where(np.isfinite(dev.re.lower), 0.6, 0.2)
    _, g = dev.value_and_grad(phi)
    np.testing.assert_allclose(g, _fd_gradient(dev, phi), rtol=2e-5, atol=2e-5)


def test_laplace_is_exact_for_a_gaussian_integrand_limit():
    """With theta = 0 the random effects vanish: the deviance is the GLM deviance."""
    d = simulate_design()
    fam = Binomial()
    dev = LaplaceDeviance(d, fam)
    beta = np.array([-0.2, 0.4, 0.7])
    f = dev(np.concatenate([[0.0], beta]))
    ll = fam.loglik_obs(d.y, d.trials, d.X @ beta).sum()
    assert f == pytest.approx(-2 * ll, rel=1e-12)


def _quad_deviance(d, theta, beta, fam):
    """-2 log L by adaptive numerical integration, one group at a time."""
    eta0 = d.X @ beta
    codes = d.terms[0].codes
    total = 0.0
    for j in np.unique(codes):
        idx = codes == j

        def integrand(u, idx=idx):
            ll = fam.loglik_obs(d.y[idx], d.trials[idx], eta0[idx] + theta * u).sum()
            return np.exp(ll) * stats.norm.pdf(u)

        val, _ = integrate.quad(integrand, -12, 12, epsabs=0, epsrel=1e-12, limit=200)
        total += -2 * np.log(val)
    return total


def test_agq_converges_to_numerical_integration():
    d = simulate_design(n_groups=12, per=5, sd=1.5, seed=3)
    fam = Binomial()
    theta, beta = 1.4, np.array([-0.3, 0.5, 0.8])
    exact = _quad_deviance(d, theta, beta, fam)
    phi = np.concatenate([[theta], beta])
    lap = LaplaceDeviance(d, fam)(phi)
    agq25 = AGQDeviance(d, fam, 25)(phi)
    assert abs(agq25 - exact) < 1e-6
    assert abs(lap - exact) > 10 * abs(agq25 - exact)  # Laplace is only an approximation


def test_agq_with_one_point_is_laplace():
    d = simulate_design()
    fam = Binomial()
    phi = np.array([0.8, -0.3, 0.5, 0.8])
    assert AGQDeviance(d, fam, 1)(phi) == pytest.approx(LaplaceDeviance(d, fam)(phi), rel=1e-12)


def test_agq_requires_single_scalar_term():
    with pytest.raises(ValueError, match="single scalar"):
        AGQDeviance(simulate_design(q=2), Binomial(), 5)


# ---------------------------------------------------------------------------- optimizer
def test_fit_recovers_simulated_parameters():
    """Simulation recovery: 600 groups x 20 observations, true SD 0.7."""
    d = simulate_design(n_groups=600, per=20, sd=0.7, seed=11)
    opt = fit_laplace(LaplaceDeviance(d, Binomial()))
    se = np.sqrt(np.diag(opt.vcov_beta))
    assert np.all(np.abs(opt.beta - np.array([-0.3, 0.5, 0.8])) < 4 * se)
    assert abs(opt.theta[0] - 0.7) < 0.12
    assert np.max(np.abs(opt.grad)) < 1e-3


def test_fit_reaches_a_minimum_of_the_objective():
    d = simulate_design(q=2, seed=5, n_groups=80)
    dev = LaplaceDeviance(d, Binomial())
    opt = fit_laplace(dev)
    rng = np.random.default_rng(0)
    for _ in range(10):
        cand = opt.phi + rng.normal(scale=1e-3, size=opt.phi.size)
        cand[: dev.n_theta] = np.maximum(cand[: dev.n_theta], dev.re.lower)
        assert dev(cand) >= opt.fun - 1e-8
