"""Penalized iteratively reweighted least squares (PIRLS).

Given the covariance parameters ``theta`` and the fixed effects ``beta``, the conditional
modes of the spherical random effects maximize the penalized log-likelihood

.. math:: \\hat u = \\arg\\min_u \\; -2 \\ell(y \\mid \\eta(u)) + \\lVert u \\rVert^2,
    \\qquad \\eta(u) = X\\beta + Z\\Lambda_\\theta u + \\text{offset}.

Each PIRLS step is a Fisher-scoring (Newton for the logit link) step

.. math:: u \\leftarrow u + H^{-1} (\\Lambda' Z' s - u), \\qquad
    H = \\Lambda' Z' W Z \\Lambda + I,

with score ``s`` and IRLS weights ``W`` at the current ``u``, halving the step whenever the
penalized deviance would increase (Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5.2 and
the lme4 "Theory" vignette). With several grouping factors, where factoring ``H`` costs far
more than a pass over the data, a step taken close to the mode reuses the previous factor
(a chord step); the mode is only accepted once the decrement, computed with ``H`` factored at
the final weights, is below the tolerance, so the result is the same. ``pirls_joint`` updates
``(u, beta)`` together, which is lme4's ``nAGQ = 0`` scheme.

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from glmmteach.model.family import Binomial
from glmmteach.model.reterms import REStructure

__all__ = ["PirlsState", "pirls", "pirls_joint", "glm_irls"]


PIRLS_MAXIT = 60  # iterations; from a warm start PIRLS needs 2-4, from zero about 5-10
# a step whose Newton decrement was below this (relative to the penalized deviance) changes the
# weights so little that the next step may reuse the factor (models with several factors)
REUSE_DECREMENT = 1e-4


class PirlsError(RuntimeError):
    """PIRLS could not reduce the penalized deviance (the model is numerically degenerate)."""


@dataclass
class PirlsState:
    """The converged state at ``(theta, beta)``: modes, linear predictor, weights, factor."""

    u: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    s: np.ndarray
    w: np.ndarray
    dw: np.ndarray
    factor: object
    loglik: float  # sum of log p(y_i | eta_i), binomial coefficients included
    usq: float  # ||u||^2
    iterations: int

    @property
    def laplace(self) -> float:
        """The Laplace deviance ``-2 loglik + ||u||^2 + log|H|``."""
        return -2.0 * self.loglik + self.usq + self.factor.logdet


def _halving_step(trial, pdev: float, max_halvings: int = 40):
    """Take the Newton step, halving it until the penalized deviance does not increase.

    ``trial(step)`` returns the penalized deviance at ``step`` times the full step and
    whatever the caller needs from that point.
    """
    step = 1.0
    for _ in range(max_halvings):
        pdev_new, payload = trial(step)
        if pdev_new <= pdev + 1e-12 * abs(pdev):
            return pdev_new, payload
        step *= 0.5
    raise PirlsError("PIRLS step-halving failed to reduce the penalized deviance")


def pirls(re: REStructure, Zt: list[np.ndarray], fam: Binomial, y: np.ndarray, n: np.ndarray,
          eta_fixed: np.ndarray, u0: np.ndarray, logcoef, maxit: int = PIRLS_MAXIT,
          tol: float = 1e-18) -> PirlsState:
    """Conditional modes of ``u`` for fixed ``eta_fixed = X beta + offset``.

    Parameters
    ----------
    re, Zt
        The random-effects structure and ``re.ztilde(theta)``.
    fam : Binomial
    y, n : ndarray
        Observed proportions and numbers of trials (``n`` may be the scalar 1.0 for binary
        data, which :meth:`Binomial.evaluate` handles in fewer passes).
    eta_fixed : ndarray
        ``X beta + offset``.
    u0 : ndarray
        Starting value (warm start from the previous evaluation).
    logcoef : ndarray or float
        ``log C(n, k)`` per observation, or their sum (only the sum is used; included so that
        values are log-likelihoods).
    maxit, tol
        Iteration limit; convergence when the Newton decrement ``g' H^{-1} g`` falls below
        ``tol * max(1, pdev)``.
    """
    u = np.array(u0, dtype=float, copy=True)
    eta = re.eta(Zt, u, base=eta_fixed)
    ll, mu, s, w, dw = fam.evaluate(y, n, eta, logcoef)
    pdev = -2.0 * ll + float(u @ u)
    # with several grouping factors a factorization costs far more than a pass over the data:
    # close to the mode, steps reuse the last factor (a chord step, still a descent direction),
    # and convergence is only accepted with a factor of H at the final weights
    reuse = not re.single
    F, fresh = re.factorize(Zt, w), True
    for it in range(maxit):
        g = re.tprod(Zt, s) - u
        delta = F.solve(g)
        dec = float(g @ delta)
        if dec <= tol * max(1.0, abs(pdev)):
            if fresh:
                return PirlsState(u, eta, mu, s, w, dw, F, ll, float(u @ u), it + 1)
            F, fresh = re.factorize(Zt, w), True
            continue

        def trial(step, u=u, delta=delta):
            u_new = u + step * delta
            eta_new = re.eta(Zt, u_new, base=eta_fixed)
            ev = fam.evaluate(y, n, eta_new, logcoef)
            return -2.0 * ev[0] + float(u_new @ u_new), (u_new, eta_new, ev)

        pdev, (u, eta, (ll, mu, s, w, dw)) = _halving_step(trial, pdev)
        if reuse and dec <= REUSE_DECREMENT * max(1.0, abs(pdev)):
            fresh = False
        else:
            F, fresh = re.factorize(Zt, w), True
    # not converged within maxit: return the last state (the caller checks `iterations`)
    if not fresh:
        F = re.factorize(Zt, w)
    return PirlsState(u, eta, mu, s, w, dw, F, ll, float(u @ u), maxit)


def pirls_joint(re: REStructure, Zt, fam: Binomial, y, n, X, offset, u0, beta0, logcoef,
                maxit: int = PIRLS_MAXIT, tol: float = 1e-18):
    """Joint conditional modes of ``(u, beta)`` for fixed ``theta`` (lme4's ``nAGQ = 0``).

    The Newton system for the penalized deviance in ``(u, beta)`` is solved through the
    Schur complement ``S = X'WX - X'WZL H^{-1} (ZL)'WX``, the penalized Fisher information
    for ``beta`` (whose inverse is the ``nAGQ = 0`` covariance matrix of ``beta``).

    Returns
    -------
    state : PirlsState
    beta : ndarray
    S : ndarray
        The Schur complement at the mode.
    """
    u = np.array(u0, dtype=float, copy=True)
    beta = np.array(beta0, dtype=float, copy=True)
    eta = X @ beta + offset + re.eta(Zt, u)
    ll, mu, s, w, dw = fam.evaluate(y, n, eta, logcoef)
    pdev = -2.0 * ll + float(u @ u)
    for it in range(maxit):
        F = re.factorize(Zt, w)
        WX = w[:, None] * X
        ZtWX = re.tprod_matrix(Zt, WX)
        B = F.solve(ZtWX)
        S = X.T @ WX - ZtWX.T @ B
        gu = re.tprod(Zt, s) - u
        gb = X.T @ s
        Hg = F.solve(gu)
        dbeta = np.linalg.solve(S, gb - ZtWX.T @ Hg)
        du = Hg - B @ dbeta
        dec = float(gu @ du + gb @ dbeta)
        if dec <= tol * max(1.0, abs(pdev)):
            return PirlsState(u, eta, mu, s, w, dw, F, ll, float(u @ u), it + 1), beta, S

        def trial(step, u=u, du=du, beta=beta, dbeta=dbeta):
            u_new, b_new = u + step * du, beta + step * dbeta
            eta_new = X @ b_new + offset + re.eta(Zt, u_new)
            ev = fam.evaluate(y, n, eta_new, logcoef)
            return -2.0 * ev[0] + float(u_new @ u_new), (u_new, b_new, eta_new, ev)

        pdev, (u, beta, eta, (ll, mu, s, w, dw)) = _halving_step(trial, pdev)
    F = re.factorize(Zt, w)
    WX = w[:, None] * X
    ZtWX = re.tprod_matrix(Zt, WX)
    S = X.T @ WX - ZtWX.T @ F.solve(ZtWX)
    return PirlsState(u, eta, mu, s, w, dw, F, ll, float(u @ u), maxit), beta, S


def glm_irls(X: np.ndarray, y: np.ndarray, n: np.ndarray, offset: np.ndarray, fam: Binomial,
             maxit: int = 25) -> np.ndarray:
    """Fixed-effects-only maximum likelihood by IRLS: the starting value for ``beta``.

    Rows with no trials carry no information and are left out (their IRLS weight is 0).
    """
    if np.ndim(n) > 0:  # a scalar n (binary data) has no empty rows
        use = n > 0
        if not np.all(use):
            X, y, n, offset = X[use], y[use], n[use], offset[use]
    mu0 = (n * y + 0.5) / (n + 1.0)
    eta = fam.linkfun(mu0)
    beta = np.linalg.lstsq(X, eta - offset, rcond=None)[0]
    for _ in range(maxit):
        eta = X @ beta
        eta += offset
        _, _, s, w, _ = fam.evaluate(y, n, eta)
        step = _weighted_step(X, w, s)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10 * (1 + np.max(np.abs(beta))):
            break
    return beta


def _weighted_step(X: np.ndarray, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The IRLS step ``(X'WX)^{-1} X's``.

    Solved through the normal equations with the columns scaled to unit weighted norm (one
    pass over the data instead of a QR of the weighted ``X``); a least-squares solve takes
    over when they are numerically singular. The converged ``beta`` is the root of ``X's``
    either way, so the accuracy of the step only affects the number of iterations.
    """
    WX = X * w[:, None]
    XtWX = X.T @ WX
    d = np.sqrt(np.diag(XtWX))
    d[d == 0] = 1.0
    try:
        cho = scipy.linalg.cho_factor(XtWX / np.outer(d, d), check_finite=False)
        if np.min(np.abs(np.diag(cho[0]))) ** 2 > 1e-10:
            return scipy.linalg.cho_solve(cho, (X.T @ s) / d, check_finite=False) / d
    except np.linalg.LinAlgError:
        pass
    sw = np.sqrt(w)
    return np.linalg.lstsq(sw[:, None] * X, s / np.where(sw > 0, sw, 1.0), rcond=None)[0]
