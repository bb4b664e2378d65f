"""The optimizers of issue 9: exact AGQ gradient, derivative-free nAGQ = 0, restarts.

Agreement of the fits with lme4 is in ``test_lme4_crosscheck.py``; here the pieces: the
exact adaptive-quadrature gradient against central differences of the AGQ deviance (an
independent computation of the same derivative), the number of deviance evaluations the
``nAGQ = 0`` and AGQ fits need (lme4's bobyqa needs a few dozen; a regression to a simplex
search costs thousands), and the restarts' bookkeeping. No test asserts on time.
"""

from __future__ import annotations

import numpy as np
import pytest
from crosscheck_models import agq_counts_data, correlated_slopes_data, nagq0_data

from glmmteach import binomial, glmer
from glmmteach._util.numdiff import central_gradient
from glmmteach.model.design import build_design
from glmmteach.model.deviance import AGQDeviance
from glmmteach.model.fit import GlmerModel


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog", "cauchit"])
@pytest.mark.parametrize("term", ["(1 | g)", "(0 + x | g)"])
def test_agq_gradient_is_exact(link, term):
    d = build_design(f"cbind(s, f) ~ x + {term}", agq_counts_data())
    dev = AGQDeviance(d, binomial(link), 7)
    phi = dev.start()
    phi[0] = 1.3
    phi[1:] += np.array([0.2, -0.1])
    f, g = dev.value_and_grad(phi)
    assert f == pytest.approx(dev(phi), rel=1e-12)
    g_fd = central_gradient(dev, phi, rel=1e-6)
    np.testing.assert_allclose(g, g_fd, rtol=2e-5, atol=2e-5 * max(1.0, np.max(np.abs(g_fd))))


def test_agq_with_one_node_is_laplace():
    d = build_design("cbind(s, f) ~ x + (1 | g)", agq_counts_data())
    phi = np.array([1.1, -0.4, 0.5])
    one = AGQDeviance(d, binomial(), 1)
    lap = GlmerModel(d, binomial()).laplace_deviance()
    f1, g1 = one.value_and_grad(phi)
    fl, gl = lap.value_and_grad(phi)
    assert f1 == pytest.approx(fl, rel=1e-12)
    np.testing.assert_allclose(g1, gl, rtol=1e-7, atol=1e-7)


def test_nagq0_needs_few_evaluations():
    m = glmer("y ~ x + f2 + (1 | g)", nagq0_data(), nAGQ=0)
    assert m.optimizer_messages == []
    # Brent's bounded method on the one theta: a few dozen joint-PIRLS evaluations
    info = m.optinfo
    assert info["method"].startswith("bounded Brent")
    assert info["evaluations"] < 60
    m2 = glmer("cbind(s, f) ~ x + (1 + x | g)", correlated_slopes_data(), nAGQ=0)
    assert m2.optinfo["method"].startswith("COBYQA") and m2.optinfo["evaluations"] < 300


def test_agq_needs_few_evaluations_beyond_laplace():
    m = glmer("cbind(s, f) ~ x + (1 | g)", agq_counts_data(), nAGQ=9)
    # quasi-Newton from the Laplace optimum and Hessian, then the Hessian for the SEs (2k)
    assert m.optinfo["method"].startswith("quasi-Newton")
    assert m.optinfo["evaluations"] < 40


def test_restart_records_the_starts_tried():
    d = correlated_slopes_data()
    m = glmer("cbind(s, f) ~ x + (1 + x | g)", d, control={"maxiter": 3})
    tried = m.optinfo["restarts"]
    assert tried[0][0] == "default" and len(tried) >= 2
    assert min(f for _, f in tried) == pytest.approx(m.deviance, abs=1e-9)
    plain = glmer("cbind(s, f) ~ x + (1 + x | g)", d)
    assert plain.optinfo["restarts"] == [] and plain.optinfo["start"] == "default"
