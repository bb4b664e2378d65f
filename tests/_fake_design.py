"""A minimal stand-in for design.Design, so engine stages can be tested without formulas."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd


def simulate_design(n_groups=60, per=8, q=1, crossed=False, trials=1, sd=0.7, seed=0,
                    beta=(-0.3, 0.5, 0.8), link="logit"):
    """Simulate a design with one grouping factor (q random columns), optionally crossed."""
    rng = np.random.default_rng(seed)
    n = n_groups * per
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.integers(0, 2, n)])
    eta = X @ np.asarray(beta)
    Xr = np.column_stack([np.ones(n), x])[:, :q]
    b = rng.normal(size=(n_groups, q)) * sd
    eta = eta + (Xr * b[g]).sum(1)
    terms = [SimpleNamespace(group="g", codes=g, levels=pd.Index(range(n_groups)), X=Xr,
                             cnms=("(Intercept)", "x")[:q])]
    if crossed:
        h = rng.integers(0, 12, n)
        eta = eta + rng.normal(size=12)[h] * 0.5
        terms.append(SimpleNamespace(group="h", codes=h, levels=pd.Index(range(12)),
                                     X=np.ones((n, 1)), cnms=("(Intercept)",)))
    if link == "logit":
        mu = 1 / (1 + np.exp(-eta))
    else:
        from scipy.special import ndtr
        mu = ndtr(eta)
    k = rng.binomial(trials, mu)
    return SimpleNamespace(X=X, y=k / trials, trials=np.full(n, float(trials)),
                           offset=np.zeros(n), terms=tuple(terms),
                           xnames=("(Intercept)", "x", "z"))
