"""The binomial family: links, weights and the exact log-likelihood.

Everything the fitter needs from the response distribution lives here, so that the rest of the
engine never mentions a link by name.

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["Binomial", "binomial", "LINKS"]

LINKS = ("logit", "probit", "cloglog", "cauchit")

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class Binomial:
    """The binomial family with a logit, probit, complementary log-log or Cauchy link.

    Parameters
    ----------
    link : {"logit", "probit", "cloglog", "cauchit"}
        The link function g, with ``eta = g(mu)``: ``logit(mu) = log(mu / (1 - mu))``,
        ``probit(mu) = Phi^{-1}(mu)``, ``cloglog(mu) = log(-log(1 - mu))`` and
        ``cauchit(mu) = tan(pi (mu - 1/2))``, the quantile function of the standard Cauchy
        distribution (as R's ``binomial(link = "cauchit")``), whose heavy tails let a few
        surprising responses pull less on the fit than under the logit link.

    Notes
    -----
    For an observation with ``n`` trials and observed proportion ``y`` (so ``k = n y``
    successes), the log-likelihood is

    .. math:: \\ell(\\mu) = \\log\\binom{n}{k} + k \\log \\mu + (n - k) \\log(1 - \\mu),

    binomial coefficient included, as in R's ``binomial()$aic`` and hence lme4's ``logLik``.
    Its derivatives with respect to the linear predictor are

    .. math::
        s = \\frac{\\partial \\ell}{\\partial \\eta} = \\frac{n (y - \\mu) \\mu'}{\\mu (1 - \\mu)},
        \\qquad
        w_F = \\frac{n \\mu'^2}{\\mu (1 - \\mu)},

    with ``mu' = dmu/deta``. ``w_F`` is the Fisher (IRLS) weight used by penalized IRLS and
    the Laplace approximation, as in lme4; the observed weight ``w_O = -ds/deta`` equals
    ``w_F`` for the canonical logit link and differs for probit, cloglog and cauchit.

    For the Cauchy link ``mu = 1/2 + arctan(eta) / pi``, computed as
    ``arctan2(1, -eta) / pi`` (and ``1 - mu`` as ``arctan2(1, eta) / pi``), so that both tails
    keep full relative precision; ``mu' = 1 / (pi (1 + eta^2))`` and
    ``mu'' = -2 eta mu' / (1 + eta^2)``.
    """

    link: str = "logit"

    def __post_init__(self) -> None:
        if self.link not in LINKS:
            raise ValueError(
                f"link={self.link!r} is not supported for the binomial family; "
                f"use one of {', '.join(LINKS)}"
            )

    @property
    def name(self) -> str:
        return "binomial"

    @property
    def canonical(self) -> bool:
        """True for the logit link, whose observed and Fisher weights coincide."""
        return self.link == "logit"

    # ------------------------------------------------------------------ link functions
    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """The link ``eta = g(mu)``."""
        mu = np.asarray(mu, dtype=float)
        if self.link == "logit":
            return special.logit(mu)
        if self.link == "probit":
            return special.ndtri(mu)
        if self.link == "cauchit":
            return np.tan(np.pi * (mu - 0.5))
        return np.log(-np.log1p(-mu))

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """The inverse link ``mu = g^{-1}(eta)``."""
        eta = np.asarray(eta, dtype=float)
        if self.link == "logit":
            return special.expit(eta)
        if self.link == "probit":
            return special.ndtr(eta)
        if self.link == "cauchit":
            return np.arctan2(1.0, -eta) / np.pi
        return -np.expm1(-np.exp(eta))

    def _mu_derivs(self, eta: np.ndarray):
        """Return mu, 1 - mu, mu' and mu'' (derivatives in eta), computed stably."""
        if self.link == "logit":
            mu = special.expit(eta)
            omu = special.expit(-eta)
            d1 = mu * omu
            d2 = d1 * (omu - mu)
        elif self.link == "probit":
            mu = special.ndtr(eta)
            omu = special.ndtr(-eta)
            d1 = np.exp(-0.5 * eta * eta - _LOG_SQRT_2PI)
            d2 = -eta * d1
        elif self.link == "cauchit":
            mu = np.arctan2(1.0, -eta) / np.pi
            omu = np.arctan2(1.0, eta) / np.pi
            one_e2 = 1.0 + eta * eta
            d1 = 1.0 / (np.pi * one_e2)
            d2 = -2.0 * eta * d1 / one_e2
        else:  # cloglog
            ee = np.exp(np.minimum(eta, 700.0))
            omu = np.exp(-ee)
            mu = -np.expm1(-ee)
            d1 = ee * omu
            d2 = d1 * (1.0 - ee)
        # keep mu strictly inside (0, 1) so that weights stay finite
        tiny = np.finfo(float).tiny
        mu = np.maximum(mu, tiny)
        omu = np.maximum(omu, tiny)
        d1 = np.maximum(d1, tiny)
        return mu, omu, d1, d2

    def log_mu(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log(mu)`` and ``log(1 - mu)`` without cancellation."""
        if self.link == "logit":
            return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
        if self.link == "probit":
            return special.log_ndtr(eta), special.log_ndtr(-eta)
        if self.link == "cauchit":
            return np.log(np.arctan2(1.0, -eta) / np.pi), np.log(np.arctan2(1.0, eta) / np.pi)
        ee = np.exp(np.minimum(eta, 700.0))
        # log(1 - exp(-ee)), stable for small and large ee
        log_mu = np.where(ee > 0.6931, np.log1p(-np.exp(-ee)), np.log(-np.expm1(-ee)))
        return log_mu, -ee

    # ------------------------------------------------------------------ likelihood pieces
    @staticmethod
    def log_binom_coef(y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """``log C(n, k)`` with ``k = round(n y)``, as R's ``dbinom`` uses."""
        n = np.round(np.asarray(n, dtype=float))
        k = np.round(np.asarray(y, dtype=float) * n)
        return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)

    def loglik_obs(self, y: np.ndarray, n: np.ndarray, eta: np.ndarray,
                   logcoef: np.ndarray | float = 0.0) -> np.ndarray:
        """Log-likelihood of each observation at linear predictor ``eta``."""
        lmu, lomu = self.log_mu(eta)
        k = n * y
        # 0 * log(0) terms are exactly 0
        return logcoef + np.where(k > 0, k * lmu, 0.0) + np.where(n - k > 0, (n - k) * lomu, 0.0)

    def working(self, y: np.ndarray, n: np.ndarray, eta: np.ndarray, observed: bool = False):
        """Score, Fisher weight and the weight derivative at ``eta``.

        Returns
        -------
        mu, s, w_F, dw_F, w_O
            ``s = dl/deta``; ``w_F`` the Fisher weight; ``dw_F = d w_F / d eta``;
            ``w_O = -ds/deta`` (only computed when ``observed``; else ``None``).
        """
        mu, omu, d1, d2 = self._mu_derivs(eta)
        var = mu * omu
        r = d1 / var
        s = n * (y - mu) * r
        w = n * d1 * r
        # d/deta (mu'^2 / V) = mu' (2 mu'' V - mu'^2 (1 - 2 mu)) / V^2
        # written with r = mu'/V so that nothing under- or overflows in the far tails
        dw = n * r * (2.0 * d2 - r * d1 * (omu - mu))
        w_obs = None
        if observed:
            if self.canonical:
                w_obs = w
            else:
                # d/deta (mu'/V) = (mu'' V - mu'^2 (1 - 2 mu)) / V^2
                dr = d2 / var - r * r * (omu - mu)
                w_obs = w - n * (y - mu) * dr
        return mu, s, w, dw, w_obs

    def evaluate(self, y: np.ndarray, n: np.ndarray | float, eta: np.ndarray, logcoef=0.0):
        """Everything PIRLS needs at ``eta`` in one pass.

        Parameters
        ----------
        y : ndarray
            Observed proportions.
        n : ndarray or float
            Numbers of trials; a scalar (e.g. 1.0 for binary data, as the deviances pass it)
            applies to every row and saves passes over the data.
        eta : array-like
            Linear predictor.
        logcoef : ndarray or float
            ``log C(n_i, k_i)`` per row, or their sum: only the sum enters.

        Returns
        -------
        loglik : float
            ``sum_i l_i``, binomial coefficients included.
        mu, s, w, dw : ndarray
            Means, scores, Fisher weights and their derivatives (see :meth:`working`).

        Notes
        -----
        For the logit link one exponential serves everything:
        ``l_i = log C(n_i, k_i) + k_i eta_i - n_i log(1 + e^{eta_i})``, ``s = k - n mu``,
        ``w = n mu (1 - mu)``, ``w' = w (1 - 2 mu) = -w tanh(eta / 2)``. This is the hot loop of
        every fit, so it works in place: at a million rows every temporary costs a pass over
        memory.
        """
        eta = np.asarray(eta, dtype=float)
        n = np.asarray(n, dtype=float)
        lc = float(np.sum(logcoef))
        if self.link != "logit":
            ll = float(np.sum(self.loglik_obs(y, n, eta))) + lc
            mu, s, w, dw, _ = self.working(y, n, eta)
            return ll, mu, s, w, dw
        if eta.ndim == 0:  # one row: compute on a length-1 array, return scalars
            ll, *rest = self.evaluate(y, n, eta[None], logcoef)
            return (ll, *(r[0] for r in rest))
        ones = n.ndim == 0 and float(n) == 1.0
        e = np.abs(eta)
        np.negative(e, out=e)
        np.exp(e, out=e)  # e = exp(-|eta|) in (0, 1]
        inv = e + 1.0
        np.reciprocal(inv, out=inv)  # 1 / (1 + e)
        ei = e * inv  # e / (1 + e)
        mu = np.array(inv, copy=True)  # mu = inv for eta >= 0, else e / (1 + e)
        np.copyto(mu, ei, where=eta < 0)
        # per-row log-likelihood k eta - n softplus(eta), summed once (no cancellation between
        # two large sums)
        terms = np.log1p(e, out=e)
        terms += np.maximum(eta, 0.0)  # softplus(eta) = log(1 + exp(eta)), without overflow
        if not ones:
            terms *= n
        k = y if ones else n * y
        terms -= k * eta
        ll = lc - float(np.sum(terms))
        w = inv
        w *= ei  # mu (1 - mu), whichever sign eta has
        if not ones:
            w *= n
        dw = np.multiply(eta, 0.5)
        np.tanh(dw, out=dw)
        dw *= w
        np.negative(dw, out=dw)  # w (1 - 2 mu) = -w tanh(eta / 2)
        s = np.array(mu, copy=True) if ones else n * mu
        np.subtract(k, s, out=s)
        return ll, mu, s, w, dw

    def loglik_and_score(self, y: np.ndarray, n: np.ndarray, eta: np.ndarray,
                         logcoef: np.ndarray | float = 0.0, score: bool = True):
        """Elementwise log-likelihood and score ``dl/deta`` (any array shape, broadcasting).

        The hot loop of adaptive quadrature, which evaluates every row at every node. For the
        logit link one exponential serves both (see :meth:`evaluate`).

        Returns
        -------
        ll : ndarray
        s : ndarray or None
            ``None`` unless ``score``.
        """
        if self.link != "logit":
            ll = self.loglik_obs(y, n, eta, logcoef)
            return ll, (self.working(y, n, eta)[1] if score else None)
        e = np.exp(-np.abs(eta))
        k = n * y
        ll = k * eta - n * (np.maximum(eta, 0.0) + np.log1p(e)) + logcoef
        if not score:
            return ll, None
        inv = 1.0 / (1.0 + e)
        mu = np.where(eta >= 0, inv, e * inv)
        return ll, k - n * mu

    def dev_resids(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Unit deviances ``2 n [y log(y/mu) + (1-y) log((1-y)/(1-mu))]``."""
        y = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(y > 0, y * np.log(y / mu), 0.0)
            b = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
        return 2.0 * n * (a + b)

    def __repr__(self) -> str:
        return f"binomial(link={self.link!r})"


def binomial(link: str = "logit") -> Binomial:
    """The binomial family, as R's ``binomial(link = ...)``.

    Parameters
    ----------
    link : {"logit", "probit", "cloglog", "cauchit"}, default "logit"

    Examples
    --------
    >>> from glmmteach import binomial
    >>> binomial("probit")
    binomial(link='probit')
    """
    return Binomial(link)


def as_family(family) -> Binomial:
    """Accept ``"binomial"`` or a :class:`Binomial`; reject anything else clearly."""
    if isinstance(family, Binomial):
        return family
    if isinstance(family, str):
        if family.lower() == "binomial":
            return Binomial("logit")
        raise ValueError(
            f"family={family!r} is not supported: glmmteach fits binomial GLMMs only; use "
            "family='binomial' or glmmteach.binomial(link='logit' | 'probit' | 'cloglog' | "
            "'cauchit')"
        )
    raise TypeError(
        "family must be 'binomial' or glmmteach.binomial(link=...), "
        f"not {type(family).__name__}"
    )
