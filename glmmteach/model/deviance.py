"""Deviance closures: the objective functions the optimizer sees.

``make_laplace_deviance`` returns an object that maps ``phi = (theta, beta)`` to the Laplace
approximation of ``-2 log L`` and its exact gradient; ``make_agq_deviance`` does the same for
adaptive Gauss-Hermite quadrature (one scalar random-effect term); ``make_nagq0_deviance``
maps ``theta`` alone to the Laplace deviance at the joint ``(u, beta)`` modes (lme4's
``nAGQ = 0``).

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
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
        # what PIRLS is given: the scalar 1.0 for binary data, and the summed coefficients
        # (it only needs their sum), so the hot loop skips those passes over the data
        self._n_pirls = 1.0 if bool(np.all(self.n == 1.0)) else self.n
        self._logcoef_sum = float(np.sum(self.logcoef))
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
        beta0 = glm_irls(self.X, self.y, self._n_pirls, self.offset, self.family)
        return np.concatenate([self.re.theta_start(), beta0])

    # ------------------------------------------------------------------ evaluation
    def state(self, phi: np.ndarray, u0: np.ndarray | None = None) -> PirlsState:
        """The PIRLS state (conditional modes etc.) at ``phi``."""
        theta, beta = self.split(phi)
        Zt = self.re.ztilde(theta)
        st = pirls(self.re, Zt, self.family, self.y, self._n_pirls,
                   self.X @ beta + self.offset, self._u if u0 is None else u0,
                   self._logcoef_sum, tol=self.pirls_tol)
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
        st = pirls(re, Zt, fam, self.y, self._n_pirls, self.X @ beta + self.offset, self._u,
                   self._logcoef_sum, tol=self.pirls_tol)
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
        # e = -2 s + v - w_O (Z Lambda a), in place (one n-vector)
        e = re.eta(Zt, a)
        e *= -w_obs
        e += v
        e -= st.s
        e -= st.s
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

    .. math:: -2 \\log L \\approx -2 \\sum_j \\Big[\\log \\sigma_j + \\log \\sum_k
        \\exp T_{jk}\\Big], \\qquad T_{jk} = \\ell_j(v_{jk}) - v_{jk}^2/2 + \\log\\omega_k
        + z_k^2/2 - \\log\\sqrt{2\\pi}, \\quad v_{jk} = u_j + \\sigma_j z_k,

    with nodes ``z_k`` and weights ``omega_k`` of the rule for ``exp(-z^2/2)`` and
    ``ell_j(v)`` the log-likelihood of group j's rows with ``eta_i = x_i'beta + theta x_i v``.
    ``K = 1`` reproduces the Laplace approximation. Unlike lme4 (which omits it when
    ``nAGQ > 1``) the binomial coefficient is kept, so values stay comparable with the Laplace
    fit. All groups and nodes are evaluated at once, as ``(n, K)`` arrays.

    The gradient is exact. With ``p_jk`` the softmax weights of ``T_jk`` over ``k``,

    .. math:: \\frac{d}{d\\phi}\\Big[\\log\\sigma_j + \\log\\sum_k e^{T_{jk}}\\Big] =
        \\frac{\\sigma_j'}{\\sigma_j} + \\sum_k p_{jk}\\Big[\\partial_\\phi \\ell_j(v_{jk})
        + (\\ell_j'(v_{jk}) - v_{jk})(u_j' + z_k \\sigma_j')\\Big],

    where ``u_j'`` follows by implicit differentiation of the mode equation
    ``theta sum_i x_i s_i - u_j = 0`` (``u_j' = (d/dphi of that sum) / H_O,j``, with the
    observed-information ``H_O``) and ``sigma_j' = -sigma_j H_j' / (2 H_j)`` from
    ``H_j = 1 + theta^2 sum_i x_i^2 w_i(eta_i)`` (Fisher weights ``w``, whose derivative
    ``w'`` in ``eta`` enters through ``eta_i' = x_i'beta' + x_i u_j theta' + theta x_i u_j'``).
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
        block = self.re.blocks[0]
        self._codes = block.codes
        self._nlev = block.nlev
        self._x = np.asarray(block.X[:, 0], dtype=float)  # the term's covariate (1: intercept)
        # flat (group, node) index of every (row, node) cell, for one bincount per sum
        self._cell = (block.codes[:, None] * self.nAGQ + np.arange(self.nAGQ)[None, :]).ravel()
        lc = np.asarray(self.logcoef, dtype=float)
        self._logcoef_col = lc[:, None] if lc.ndim else lc

    def _nodes(self, phi, st: PirlsState, score: bool = False):
        """Node values ``v``, the per-(group, node) integrand ``T`` and the node scores."""
        theta, beta = self.split(phi)
        codes, J, K = self._codes, self._nlev, self.nAGQ
        sigma = 1.0 / np.sqrt(st.factor.h)
        v = st.u[:, None] + sigma[:, None] * self.nodes[None, :]  # (J, K)
        eta0 = self.X @ beta + self.offset
        zx = theta[0] * self._x
        eta = eta0[:, None] + zx[:, None] * v[codes]  # (n, K)
        ll, s = self.family.loglik_and_score(self.y[:, None], self.n[:, None], eta,
                                             self._logcoef_col, score=score)
        T = np.bincount(self._cell, weights=ll.ravel(), minlength=J * K).reshape(J, K)
        T += self.log_weights[None, :] - 0.5 * v * v
        return sigma, v, s, T

    def agq_from_state(self, phi, st: PirlsState) -> float:
        sigma, _, _, T = self._nodes(phi, st)
        mx = T.max(axis=1)
        logint = mx + np.log(np.exp(T - mx[:, None]).sum(axis=1)) + np.log(sigma)
        return float(-2.0 * np.sum(logint))

    def __call__(self, phi) -> float:
        return self.agq_from_state(phi, self.state(phi))

    def value_and_grad(self, phi):
        """The AGQ deviance and its exact gradient at ``phi`` (see the class Notes)."""
        phi = np.asarray(phi, dtype=float)
        theta, beta = self.split(phi)
        th = float(theta[0])
        st = self.state(phi)
        codes, J, K = self._codes, self._nlev, self.nAGQ
        x, fam = self._x, self.family
        sigma, v, s_nodes, T = self._nodes(phi, st, score=True)
        mx = T.max(axis=1)
        E = np.exp(T - mx[:, None])
        tot = E.sum(axis=1)
        f = float(-2.0 * np.sum(mx + np.log(tot) + np.log(sigma)))
        P = E / tot[:, None]  # (J, K) softmax weights
        Pi = P[codes]  # (n, K)
        r = np.sum(Pi * s_nodes, axis=1)  # sum_k p_jk s_ik, per row
        # d T_jk / d v_jk = theta sum_i x_i s_ik - v_jk
        dTdv = th * np.bincount(self._cell, weights=(x[:, None] * s_nodes).ravel(),
                                minlength=J * K).reshape(J, K) - v
        b1 = np.sum(P * dTdv, axis=1)
        b2 = np.sum(P * dTdv * self.nodes[None, :], axis=1)
        # pieces at the mode
        w, dw, s_m = st.w, st.dw, st.s
        if fam.canonical:
            w_obs = w
        else:
            w_obs = fam.working(self.y, self.n, st.eta, observed=True)[4]
        H = st.factor.h
        HO = 1.0 + th * th * np.bincount(codes, weights=x * x * w_obs, minlength=J)
        u = st.u
        # coefficient on d sigma_j, then on d H_j (d sigma = -sigma dH / (2H))
        c_H = -0.5 * sigma * (1.0 / sigma + b2) / H
        # coefficient on d u_j, including u's effect on H through eta
        c_u = b1 + c_H * th ** 3 * np.bincount(codes, weights=x ** 3 * dw, minlength=J)
        cu_over = c_u / HO
        # beta: sum_i a_i X_i
        a = (r + (c_H * th * th)[codes] * x * x * dw
             - cu_over[codes] * th * x * w_obs)
        g_beta = self.X.T @ a
        # theta
        g_theta = float(np.sum(x * np.sum(Pi * s_nodes * v[codes], axis=1)))
        g_theta += float(np.sum(c_H * (2.0 * th * np.bincount(codes, weights=x * x * w,
                                                                 minlength=J)
                                        + th * th * np.bincount(codes, weights=x ** 3 * dw,
                                                                minlength=J) * u)))
        g_theta += float(np.sum(cu_over * (np.bincount(codes, weights=x * s_m, minlength=J)
                                           - th * u * np.bincount(codes, weights=x * x * w_obs,
                                                                  minlength=J))))
        return f, -2.0 * np.concatenate([[g_theta], g_beta])

    def grad(self, phi):
        return self.value_and_grad(phi)[1]


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

    def set_start(self, beta=None, u=None) -> None:
        """Start the next joint PIRLS from these fixed effects (and spherical modes)."""
        if beta is not None:
            self._beta = np.array(beta, dtype=float)
        if u is not None:
            self._u = np.array(u, dtype=float)

    def joint_state(self, theta: np.ndarray):
        Zt = self.re.ztilde(theta)
        if self._beta is None:
            self._beta = glm_irls(self.X, self.y, self._n_pirls, self.offset, self.family)
        st, beta, S = pirls_joint(self.re, Zt, self.family, self.y, self._n_pirls, self.X,
                                  self.offset, self._u, self._beta, self._logcoef_sum,
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
