"""Finite differences used by the fitter's convergence checks and standard errors.

Package-private; imports nothing from glmmteach.
"""

from __future__ import annotations

import numpy as np

__all__ = ["central_gradient", "hessian_from_gradient", "hessian_from_values"]

def central_gradient(fun, phi: np.ndarray, rel: float = 1e-5) -> np.ndarray:
    """Central differences of a scalar function (relative step ``rel``)."""
    g = np.empty_like(phi)
    for j in range(len(phi)):
        h = rel * max(1.0, abs(phi[j]))
        up, dn = phi.copy(), phi.copy()
        up[j] += h
        dn[j] -= h
        g[j] = (fun(up) - fun(dn)) / (2.0 * h)
    return g


def hessian_from_gradient(grad_fun, phi: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central differences of an exact gradient, symmetrized."""
    k = len(phi)
    H = np.empty((k, k))
    for j in range(k):
        h = step * max(1.0, abs(phi[j]))
        up, dn = phi.copy(), phi.copy()
        up[j] += h
        dn[j] -= h
        H[:, j] = (grad_fun(up) - grad_fun(dn)) / (2.0 * h)
    return 0.5 * (H + H.T)


def hessian_from_values(fun, phi: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Second-order central differences of the deviance itself (lme4's ``deriv12``)."""
    k = len(phi)
    H = np.empty((k, k))
    f0 = fun(phi)
    hs = step * np.maximum(1.0, np.abs(phi))
    for i in range(k):
        e_i = np.zeros(k)
        e_i[i] = hs[i]
        H[i, i] = (fun(phi + e_i) - 2.0 * f0 + fun(phi - e_i)) / hs[i] ** 2
        for j in range(i):
            e_j = np.zeros(k)
            e_j[j] = hs[j]
            H[i, j] = H[j, i] = (fun(phi + e_i + e_j) - fun(phi + e_i - e_j)
                                 - fun(phi - e_i + e_j) + fun(phi - e_i - e_j)) / (
                4.0 * hs[i] * hs[j])
    return H
