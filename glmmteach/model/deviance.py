"""Deviance closures: the objective functions the optimizer sees.

``make_laplace_deviance`` returns an object that maps ``phi = (theta, beta)`` to the Laplace
approximation of ``-2 log L`` and its exact gradient; ``make_agq_deviance`` does the same for
adaptive Gauss-Hermite quadrature (one scalar random-effect term); ``make_nagq0_deviance``
maps ``theta`` alone to the Laplace deviance at the joint ``(u, beta)`` modes (lme4's
``nAGQ = 0``).
"""

from __future__ import annotations

import numpy as np

from glmmteach._util.numdiff import central_gradient
from glmmteach.model.family import Binomial
from glmmteach.model.pirls import PirlsState, glm_irls, pirls, pirls_joint
from glmmteach.model.reterms import REStructure

__all__ = ["LaplaceDeviance", "AGQDeviance", "NAGQ0Deviance", "make_laplace_deviance",
           "make_agq_deviance", "make_nagq0_deviance"]


class LaplaceDeviance:
    """The Laplace-approximated deviance as a function of ``phi = (theta, beta)``.

    Notes
    -----
    With ``u`` the spherical random effects, ``Lambda(theta)`` the relative covariance factor
    and ``u_hat`` the conditional modes from PIRLS, the Laplace approximation of
    ``-2 log L(theta, beta)`` is (Bates et al. 2015, eq. 32, with the binomial coefficient kept
    as in lme4's ``logLik``)

    .. math:: f(\\theta, \\beta) = -2 \\sum_i \\ell_i(\\hat\\eta_i) + \\lVert\\hat u\\rVert^2
        + \\log\\lvert H \\rvert, \\qquad H = \\Lambda' Z' W Z \\Lambda + I,

    with ``W`` the IRLS (Fisher) weights at the modes. Its gradient is exact: because
    ``u_hat`` minimizes the first two terms, their total derivative is the partial one (the
    envelope theorem), and the dependence of ``log|H|`` on ``u_hat`` is handled by implicit
    differentiation, ``d u_hat / d phi = -H_O^{-1} d^2 (pdev/2) / du dphi``, with ``H_O`` the
    observed-information version of ``H`` (equal to ``H`` for the logit link). One extra
    solve (an adjoint vector ``a``) gives all derivatives at once:

    .. math::
        m_i = \\tilde z_i' H^{-1} \\tilde z_i, \\quad v_i = w_i'(\\eta_i) m_i, \\quad
        a = H_O^{-1} \\Lambda'Z'v, \\quad e = -2 s + v - w_O \\circ (Z\\Lambda a),

    .. math::
        \\partial f / \\partial\\beta = X' e, \\qquad
        \\partial f / \\partial T_{rc} = \\sum_i x_{ir} \\left[u_{g(i)c} e_i + 2 w_i R_{ic}
        + s_i a_{g(i)c}\\right],

    where ``s`` is the score, ``w`` the Fisher weight, ``w'`` its derivative in ``eta``,
    ``R_i`` the part of ``H^{-1} z_i`` that belongs to observation i's own level, and
    ``u_{g(i)c}`` the mode for that level and column ``c`` of ``T``.
    """

    def __init__(self, design, family: Binomial, re: REStructure | None = None) -> None:
        self.design = design
        self.family = family
        # the model (glmmteach.model.fit.GlmerModel) builds the structure once and passes it in
        self.re = REStructure(design.terms) if re is None else re
        self.X = np.asarray(design.X, dtype=float)
        self.y = np.asarray(design.y, dtype=float)
        self.n = np.asarray(design.trials, dtype=float)
        self.offset = np.asarray(design.offset, dtype=float)
        self.logcoef = family.log_binom_coef(self.y, self.n)
        self.n_theta = self.re.n_theta
        self.p = self.X.shape[1]
        self._u = np.zeros(self.re.q)
        self.evaluations = 0
        # Fisher scoring converges linearly for non-canonical links: ask for more
        self.pirls_tol = 1e-18 if family.canonical else 1e-21

    def reset_modes(self, u) -> None:
        """Warm-start the next PIRLS from the spherical conditional modes ``u``."""
        self._u = np.array(u, dtype=float)

    # ------------------------------------------------------------------ parameters
    @property
    def lower(self) -> np.ndarray:
        return np.concatenate([self.re.lower, np.full(self.p, -np.inf)])

    def split(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phi = np.asarray(phi, dtype=float)
        return phi[: self.n_theta], phi[self.n_theta :]

    def start(self) -> np.ndarray:
        """lme4's start for ``theta`` and the GLM (no random effects) estimate for ``beta``."""
        beta0 = glm_irls(self.X, self.y, self.n, self.offset, self.family)
        return np.concatenate([self.re.theta_start(), beta0])

    # ------------------------------------------------------------------ evaluation
    def state(self, phi: np.ndarray, u0: np.ndarray | None = None) -> PirlsState:
        """The PIRLS state (conditional modes etc.) at ``phi``."""
        theta, beta = self.split(phi)
        Zt = self.re.ztilde(theta)
        st = pirls(self.re, Zt, self.family, self.y, self.n, self.X @ beta + self.offset,
                   self._u if u0 is None else u0, self.logcoef, tol=self.pirls_tol)
        if np.all(np.isfinite(st.u)):
            self._u = st.u
        self.evaluations += 1
        return st

    def __call__(self, phi: np.ndarray) -> float:
        return self.state(phi).laplace

    def value_and_grad(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        """The Laplace deviance and its exact gradient at ``phi``."""
        theta, beta = self.split(phi)
        re, fam = self.re, self.family
        Zt = re.ztilde(theta)
        st = pirls(re, Zt, fam, self.y, self.n, self.X @ beta + self.offset, self._u,
                   self.logcoef, tol=self.pirls_tol)
        self._u = st.u
        self.evaluations += 1
        F = st.factor
        R = F.leverage()
        m = np.zeros(re.n)
        for Z, Rb in zip(Zt, R):
            m += np.einsum("ij,ij->i", Z, Rb)
        v = st.dw * m
        if fam.canonical:
            w_obs, F_obs = st.w, F
        else:
            _, _, _, _, w_obs = fam.working(self.y, self.n, st.eta, observed=True)
            F_obs = re.factorize(Zt, w_obs)
        a = F_obs.solve(re.tprod(Zt, v))
        e = -2.0 * st.s + v - w_obs * re.eta(Zt, a)
        g_beta = self.X.T @ e
        g_theta = re.theta_gradient(Zt, e, st.w, st.s, st.u, a, R)
        return st.laplace, np.concatenate([g_theta, g_beta])

    def grad(self, phi: np.ndarray) -> np.ndarray:
        return self.value_and_grad(phi)[1]


class AGQDeviance(LaplaceDeviance):
    """Adaptive Gauss-Hermite approximation of the deviance (one scalar random-effect term).

    Notes
    -----
    With one scalar term the likelihood factors over the levels ``j`` of the grouping factor
    into one-dimensional integrals. Centring a ``K``-point Gauss-Hermite rule at the
    conditional mode ``u_j`` and scaling it by ``sigma_j = H_jj^{-1/2}`` (Pinheiro & Bates
    1995; Bates et al. 2015, sec. 5.4) gives

    .. math:: -2 \\log L \\approx -2 \\sum_j \\log \\Big[ \\sigma_j \\sum_k \\omega_k
        e^{z_k^2/2} \\exp\\big(\\ell_j(u_j + \\sigma_j z_k)
        - (u_j + \\sigma_j z_k)^2/2\\big) / \\sqrt{2\\pi} \\Big],

    with nodes ``z_k`` and weights ``omega_k`` of the rule for ``exp(-z^2/2)``. ``K = 1``
    reproduces the Laplace approximation. Unlike lme4 (which omits it when ``nAGQ > 1``) the
    binomial coefficient is kept, so values stay comparable with the Laplace fit. The
    gradient is taken by central differences.
    """

    def __init__(self, design, family: Binomial, nAGQ: int,
                 re: REStructure | None = None) -> None:
        super().__init__(design, family, re)
        if not self.re.scalar:
            raise ValueError(
                "nAGQ > 1 is only available for models with a single scalar random-effect "
                "term, such as (1|id); use nAGQ=1 (Laplace) for this model"
            )
        self.nAGQ = int(nAGQ)
        z, wts = np.polynomial.hermite_e.hermegauss(self.nAGQ)
        self.nodes = z
        self.log_weights = np.log(wts) + 0.5 * z * z - 0.5 * np.log(2.0 * np.pi)

    def agq_from_state(self, phi, st: PirlsState) -> float:
        theta, beta = self.split(phi)
        re = self.re
        block = re.blocks[0]
        Z = re.ztilde(theta)[0][:, 0]
        codes = block.codes
        sigma = 1.0 / np.sqrt(st.factor.h)
        u_hat = st.u
        eta0 = self.X @ beta + self.offset
        terms = np.empty((block.nlev, self.nAGQ))
        for k, zk in enumerate(self.nodes):
            uk = u_hat + sigma * zk
            eta = eta0 + Z * uk[codes]
            ll = np.bincount(codes, weights=self.family.loglik_obs(self.y, self.n, eta,
                                                                     self.logcoef),
                             minlength=block.nlev)
            terms[:, k] = ll - 0.5 * uk * uk + self.log_weights[k]
        mx = terms.max(axis=1)
        logint = mx + np.log(np.exp(terms - mx[:, None]).sum(axis=1)) + np.log(sigma)
        return float(-2.0 * np.sum(logint))

    def __call__(self, phi) -> float:
        return self.agq_from_state(phi, self.state(phi))

    def value_and_grad(self, phi):
        phi = np.asarray(phi, dtype=float)
        f0 = self(phi)
        return f0, central_gradient(self, phi)




class NAGQ0Deviance(LaplaceDeviance):
    """lme4's ``nAGQ = 0``: ``theta`` alone, with ``beta`` from joint PIRLS on ``(u, beta)``.

    Notes
    -----
    For each ``theta`` the penalized deviance is minimized over ``u`` and ``beta`` together
    and the Laplace formula is evaluated there. The estimate of ``beta`` is therefore the
    penalized-likelihood one, slightly different from the Laplace maximum likelihood
    estimate; its covariance is the inverse of the Schur complement of the penalized Fisher
    information.
    """

    def __init__(self, design, family: Binomial, re: REStructure | None = None) -> None:
        super().__init__(design, family, re)
        self._beta = None

    def joint_state(self, theta: np.ndarray):
        Zt = self.re.ztilde(theta)
        if self._beta is None:
            self._beta = glm_irls(self.X, self.y, self.n, self.offset, self.family)
        st, beta, S = pirls_joint(self.re, Zt, self.family, self.y, self.n, self.X,
                                  self.offset, self._u, self._beta, self.logcoef,
                                  tol=self.pirls_tol)
        self._u, self._beta = st.u, beta
        self.evaluations += 1
        return st, beta, S

    def theta_objective(self, theta) -> float:
        return self.joint_state(np.asarray(theta, dtype=float))[0].laplace

    def theta_value_and_grad(self, theta):
        theta = np.asarray(theta, dtype=float)
        return self.theta_objective(theta), central_gradient(self.theta_objective, theta)


def make_laplace_deviance(design, family: Binomial,
                          re: REStructure | None = None) -> LaplaceDeviance:
    """The Laplace deviance closure for a design (see :class:`LaplaceDeviance`)."""
    return LaplaceDeviance(design, family, re)


def make_agq_deviance(design, family: Binomial, nAGQ: int,
                      re: REStructure | None = None) -> AGQDeviance:
    """The adaptive Gauss-Hermite deviance closure (see :class:`AGQDeviance`)."""
    return AGQDeviance(design, family, nAGQ, re)


def make_nagq0_deviance(design, family: Binomial,
                        re: REStructure | None = None) -> NAGQ0Deviance:
    """The ``nAGQ = 0`` deviance closure in ``theta`` (see :class:`NAGQ0Deviance`)."""
    return NAGQ0Deviance(design, family, re)
