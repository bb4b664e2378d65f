"""Random-effects structure: the relative covariance factor Lambda(theta) and products with Z.

The random effects are ``b = Lambda(theta) u`` with spherical ``u ~ N(0, I)``. For term k with
``q_k`` columns (covariates ``x_i`` for observation i) and grouping factor ``g_k``, the block of
``Lambda`` for every level is the same lower-triangular ``T_k``, so observation i contributes

    eta_i += x_i' T_k u_{k, g_k(i)} = ztilde_i' u_{k, g_k(i)},   ztilde_i = T_k' x_i.

Terms that share a grouping factor (``(1|g) + (0+x|g)``, as ``(1+x||g)`` expands) are merged
into one *block* whose ``T`` is block-diagonal, so a model with one grouping factor always has
a block-diagonal ``H = Lambda' Z' W Z Lambda + I`` with one small ``q x q`` matrix per level.
Models with several grouping factors (crossed, nested) keep the largest block block-diagonal
and eliminate it, leaving a dense Schur complement for the others.

The flat vector ``u`` stores block after block, each level after level with its ``q`` columns
(level-major), as lme4 stores ``u`` within a term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

__all__ = ["REStructure", "BlockFactor", "SchurFactor"]

# with several grouping factors, the random effects outside the largest block form a dense
# matrix; beyond this size that gets slow
DENSE_Q_LIMIT = 8000


@dataclass(frozen=True)
class _Block:
    codes: np.ndarray  # (n,) int64 level codes
    nlev: int
    X: np.ndarray  # (n, q) covariates of all terms in the block
    offset: int  # start of the block in the flat u
    term_index: tuple[int, ...]
    term_cols: tuple[tuple[int, int], ...]  # column slice (start, stop) of each term in X


class REStructure:
    """Everything about ``Lambda(theta)`` and ``Z`` that the deviance needs.

    Parameters
    ----------
    terms : sequence of design.RandomTerm
        Random-effect terms in lme4's order, each with ``group``, ``codes``, ``levels``,
        ``X`` and ``cnms``.

    Attributes
    ----------
    n_theta : int
        Number of covariance parameters (lower triangles of every ``T_k``, column by column).
    lower : ndarray
        Lower bounds of ``theta``: 0 for diagonal elements, ``-inf`` otherwise (as lme4).
    q : int
        Length of ``u``.
    """

    def __init__(self, terms) -> None:
        self.terms = tuple(terms)
        if not self.terms:
            raise ValueError("a GLMM needs at least one random-effect term")
        self.n = len(self.terms[0].codes)
        # theta layout, term by term
        theta_term, theta_rc, lower = [], [], []
        for k, t in enumerate(self.terms):
            qk = t.X.shape[1]
            for c in range(qk):
                for r in range(c, qk):
                    theta_term.append(k)
                    theta_rc.append((r, c))
                    lower.append(0.0 if r == c else -np.inf)
        self.n_theta = len(lower)
        self.lower = np.array(lower)
        self.theta_term = np.array(theta_term)
        self.theta_rc = tuple(theta_rc)
        # blocks: terms sharing a grouping factor
        groups: dict[str, list[int]] = {}
        for k, t in enumerate(self.terms):
            groups.setdefault(t.group, []).append(k)
        blocks, offset = [], 0
        self.term_block: dict[int, tuple[int, int]] = {}  # term -> (block, first column)
        for ks in groups.values():
            t0 = self.terms[ks[0]]
            cols, start = [], 0
            for k in ks:
                qk = self.terms[k].X.shape[1]
                cols.append((start, start + qk))
                self.term_block[k] = (len(blocks), start)
                start += qk
            X = np.column_stack([np.asarray(self.terms[k].X, dtype=float) for k in ks])
            nlev = len(t0.levels)
            codes = np.asarray(t0.codes, dtype=np.int64)
            blocks.append(_Block(codes, nlev, X, offset, tuple(ks), tuple(cols)))
            offset += nlev * start
        self.blocks = tuple(blocks)
        self.q = offset
        self.single = len(self.blocks) == 1
        self.scalar = len(self.terms) == 1 and self.terms[0].X.shape[1] == 1
        # map theta index -> (block, row, col) within the block's T
        self.theta_block_rc = tuple(
            (self.term_block[k][0], self.term_block[k][1] + r, self.term_block[k][1] + c)
            for k, (r, c) in zip(self.theta_term, self.theta_rc)
        )
        if not self.single:
            sizes = sorted(b.nlev * b.X.shape[1] for b in self.blocks)
            if sum(sizes[:-1]) > DENSE_Q_LIMIT:
                raise ValueError(
                    f"this model has {sum(sizes[:-1])} random effects outside its largest "
                    f"grouping factor; glmmteach handles up to {DENSE_Q_LIMIT} there"
                )

    # ------------------------------------------------------------------ theta <-> T
    def theta_start(self) -> np.ndarray:
        """lme4's starting value: identity ``T`` (1 on diagonals, 0 elsewhere)."""
        return np.where(np.isfinite(self.lower), 1.0, 0.0)

    def block_T(self, theta: np.ndarray) -> list[np.ndarray]:
        """The block-diagonal relative covariance factor ``T_b`` of each block."""
        Ts = [np.zeros((b.X.shape[1], b.X.shape[1])) for b in self.blocks]
        for j, (bi, r, c) in enumerate(self.theta_block_rc):
            Ts[bi][r, c] = theta[j]
        return Ts

    def term_T(self, theta: np.ndarray) -> list[np.ndarray]:
        """The lower-triangular factor ``T_k`` of each term."""
        Ts = [np.zeros((t.X.shape[1],) * 2) for t in self.terms]
        for j, (k, (r, c)) in enumerate(zip(self.theta_term, self.theta_rc)):
            Ts[k][r, c] = theta[j]
        return Ts

    def ztilde(self, theta: np.ndarray) -> list[np.ndarray]:
        """``Z Lambda`` in compact form: for each block the ``(n, q_b)`` array ``X_b T_b``."""
        return [b.X @ T for b, T in zip(self.blocks, self.block_T(theta))]

    # ------------------------------------------------------------------ products
    def split_u(self, u: np.ndarray) -> list[np.ndarray]:
        """View the flat ``u`` as one ``(levels, q_b)`` array per block."""
        return [
            u[b.offset : b.offset + b.nlev * b.X.shape[1]].reshape(b.nlev, b.X.shape[1])
            for b in self.blocks
        ]

    def eta(self, Zt: list[np.ndarray], u: np.ndarray) -> np.ndarray:
        """``Z Lambda u``."""
        out = np.zeros(self.n)
        for b, Z, U in zip(self.blocks, Zt, self.split_u(u)):
            for c in range(Z.shape[1]):
                out += Z[:, c] * U[b.codes, c]
        return out

    def tprod(self, Zt: list[np.ndarray], v: np.ndarray) -> np.ndarray:
        """``Lambda' Z' v`` for an ``n``-vector ``v``."""
        parts = []
        for b, Z in zip(self.blocks, Zt):
            cols = [np.bincount(b.codes, weights=v * Z[:, c], minlength=b.nlev)
                    for c in range(Z.shape[1])]
            parts.append(np.column_stack(cols).ravel())
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def tprod_matrix(self, Zt: list[np.ndarray], V: np.ndarray) -> np.ndarray:
        """``Lambda' Z' V`` for an ``(n, p)`` matrix ``V``."""
        return np.column_stack([self.tprod(Zt, V[:, j]) for j in range(V.shape[1])])

    def gather(self, u: np.ndarray) -> list[np.ndarray]:
        """For each block, the ``(n, q_b)`` values ``u_{g(i)}`` seen by each observation."""
        return [U[b.codes] for b, U in zip(self.blocks, self.split_u(u))]

    # ------------------------------------------------------------------ factorization
    def factorize(self, Zt: list[np.ndarray], w: np.ndarray):
        """Factor ``H = Lambda' Z' W Z Lambda + I`` for observation weights ``w``."""
        if self.single:
            return BlockFactor(self.blocks[0], Zt[0], w)
        return SchurFactor(self, Zt, w)

    def theta_gradient(self, Zt, e, w, s, u, a, R) -> np.ndarray:
        """Assemble the gradient in ``theta`` from per-observation pieces.

        For the element ``(r, c)`` of ``T_b`` the derivative of the Laplace deviance is
        ``sum_i x_ir [u_{g(i)c} e_i + 2 w_i R_ic + s_i a_{g(i)c}]`` (see deviance.py).
        """
        U = self.gather(u)
        A = self.gather(a)
        G = []
        for b, Ub, Ab, Rb in zip(self.blocks, U, A, R):
            Q = Ub * e[:, None] + 2.0 * w[:, None] * Rb + s[:, None] * Ab
            G.append(b.X.T @ Q)
        return np.array([G[bi][r, c] for bi, r, c in self.theta_block_rc])

    # ------------------------------------------------------------------ theta -> SD / cor
    def sdcor(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Standard deviations and correlation matrix of each term's random effects.

        For term k, ``Sigma_k = T_k T_k'`` (on the scale of the relative factor: for a
        binomial GLMM, whose residual scale is 1, this is the covariance of the random
        effects), the SDs are ``sqrt(diag(Sigma_k))`` and the correlations
        ``Sigma_k[r, c] / (sd_r sd_c)``.

        Returns
        -------
        list of (sd, cor)
            Per term, in lme4's order: ``sd`` of shape ``(q_k,)`` and ``cor`` of shape
            ``(q_k, q_k)`` with 1 on the diagonal; a correlation involving an SD of 0 is
            undefined and NaN (as lme4's ``VarCorr``; the diagonal stays 1, as R's
            ``cov2cor``).
        """
        out = []
        for T in self.term_T(np.asarray(theta, dtype=float)):
            S = T @ T.T
            sd = np.sqrt(np.diag(S))
            with np.errstate(invalid="ignore", divide="ignore"):
                cor = S / np.outer(sd, sd)
            cor[np.outer(sd, sd) <= 0] = np.nan
            np.fill_diagonal(cor, 1.0)
            out.append((sd, np.clip(cor, -1.0, 1.0)))
        return out


class BlockFactor:
    """``H`` for one grouping factor: one ``q x q`` block per level, handled in batch."""

    def __init__(self, block: _Block, Z: np.ndarray, w: np.ndarray) -> None:
        self.block = block
        self.Z = Z
        q = Z.shape[1]
        self.qb = q
        codes, L = block.codes, block.nlev
        if q == 1:
            h = 1.0 + np.bincount(codes, weights=w * Z[:, 0] ** 2, minlength=L)
            self.h = h
            self.logdet = float(np.sum(np.log(h)))
        else:
            H = np.zeros((L, q, q))
            for r in range(q):
                for c in range(r + 1):
                    v = np.bincount(codes, weights=w * Z[:, r] * Z[:, c], minlength=L)
                    H[:, r, c] = v
                    H[:, c, r] = v
            H[:, range(q), range(q)] += 1.0
            chol = np.linalg.cholesky(H)
            self.logdet = float(2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
            self.Hinv = np.linalg.inv(H)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``H^{-1} rhs`` for a vector or a matrix with ``q`` rows."""
        L, q = self.block.nlev, self.qb
        if q == 1:
            return rhs / (self.h if rhs.ndim == 1 else self.h[:, None])
        if rhs.ndim == 1:
            return np.einsum("lij,lj->li", self.Hinv, rhs.reshape(L, q)).ravel()
        R = rhs.reshape(L, q, -1)
        return np.einsum("lij,ljp->lip", self.Hinv, R).reshape(L * q, -1)

    def leverage(self) -> list[np.ndarray]:
        """``R_i = (H^{-1} ztilde_i)`` restricted to observation i's own level, per block."""
        if self.qb == 1:
            return [self.Z / self.h[self.block.codes][:, None]]
        return [np.einsum("nij,nj->ni", self.Hinv[self.block.codes], self.Z)]

    def cond_var(self) -> list[np.ndarray]:
        """Diagonal blocks of ``H^{-1}``: one ``(levels, q, q)`` array (a list, as DenseFactor)."""
        if self.qb == 1:
            return [(1.0 / self.h)[:, None, None]]
        return [self.Hinv]


class SchurFactor:
    r"""``H`` for several grouping factors: block-diagonal part plus a dense Schur complement.

    Notes
    -----
    The block with the most random effects (``d``, e.g. subjects) is kept block-diagonal and
    the others (``r``, e.g. items) are dense, as in MixedModels.jl:

    .. math:: H = \begin{pmatrix} A & B \\ B' & C \end{pmatrix}, \qquad
        S = C - B' A^{-1} B, \qquad \log|H| = \log|A| + \log|S|,

    where ``A`` has one small block per level. Solves use the block elimination, and the
    per-observation pieces of ``H^{-1} z_i`` need only ``t_i = B' A^{-1} z_{d,i} - z_{r,i}``:
    ``m_i = z_{d,i}' A^{-1} z_{d,i} + t_i' S^{-1} t_i``.
    """

    def __init__(self, re: REStructure, Zt: list[np.ndarray], w: np.ndarray) -> None:
        self.re = re
        sizes = [b.nlev * b.X.shape[1] for b in re.blocks]
        d = int(np.argmax(sizes))
        self.d = d
        bd = re.blocks[d]
        self.rest = [i for i in range(len(re.blocks)) if i != d]
        self.idx_d = np.arange(bd.offset, bd.offset + sizes[d])
        self.idx_r = np.concatenate(
            [np.arange(re.blocks[i].offset, re.blocks[i].offset + sizes[i]) for i in self.rest])
        qd, L = bd.X.shape[1], bd.nlev
        self.qd, self.L = qd, L
        Zd = Zt[d]
        self.Zd = Zd
        # local column index of each observation's entries within the dense part
        cols, data, start = [], [], 0
        for i in self.rest:
            b = re.blocks[i]
            qb = b.X.shape[1]
            for c in range(qb):
                cols.append(start + b.codes * qb + c)
                data.append(Zt[i][:, c])
            start += b.nlev * qb
        self.nr = start
        self.r_cols = np.column_stack(cols)
        k = self.r_cols.shape[1]
        self.Zr = sp.csr_matrix(
            (np.column_stack(data).ravel(), self.r_cols.ravel(), np.arange(0, re.n * k + 1, k)),
            shape=(re.n, self.nr))
        # A: one q_d x q_d block per level
        A = np.zeros((L, qd, qd))
        for r in range(qd):
            for c in range(r + 1):
                v = np.bincount(bd.codes, weights=w * Zd[:, r] * Zd[:, c], minlength=L)
                A[:, r, c] = v
                A[:, c, r] = v
        A[:, range(qd), range(qd)] += 1.0
        cholA = np.linalg.cholesky(A)
        logdetA = 2.0 * np.sum(np.log(np.diagonal(cholA, axis1=1, axis2=2)))
        self.Ainv = np.linalg.inv(A)
        # B: (L, q_d, n_r); C: dense n_r x n_r
        WZr = self.Zr.multiply(w[:, None]).tocsr()
        B = np.empty((L, qd, self.nr))
        rows = np.arange(re.n)
        for c in range(qd):
            E = sp.csr_matrix((Zd[:, c], (bd.codes, rows)), shape=(L, re.n))
            B[:, c, :] = (E @ WZr).toarray()
        self.B = B
        C = (self.Zr.T @ WZr).toarray()
        C[np.diag_indices_from(C)] += 1.0
        self.AinvB = np.einsum("lij,ljk->lik", self.Ainv, B)
        S = C - np.einsum("lck,lcj->kj", B, self.AinvB)
        self.cho = scipy.linalg.cho_factor(S, lower=True, check_finite=False)
        self.logdet = float(logdetA + 2.0 * np.sum(np.log(np.diag(self.cho[0]))))
        self._Sinv = None

    @property
    def Sinv(self) -> np.ndarray:
        if self._Sinv is None:
            self._Sinv = scipy.linalg.cho_solve(self.cho, np.eye(self.nr), check_finite=False)
        return self._Sinv

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``H^{-1} rhs`` for a vector or a matrix with ``q`` rows."""
        vec = rhs.ndim == 1
        R = rhs[:, None] if vec else rhs
        L, qd = self.L, self.qd
        r1 = R[self.idx_d].reshape(L, qd, -1)
        r2 = R[self.idx_r]
        y1 = np.einsum("lij,ljp->lip", self.Ainv, r1)
        x2 = scipy.linalg.cho_solve(self.cho, r2 - np.einsum("lck,lcp->kp", self.B, y1),
                                    check_finite=False)
        x1 = y1 - np.einsum("lck,kp->lcp", self.AinvB, x2)
        out = np.empty_like(R, dtype=float)
        out[self.idx_d] = x1.reshape(L * qd, -1)
        out[self.idx_r] = x2
        return out[:, 0] if vec else out

    def leverage(self) -> list[np.ndarray]:
        re = self.re
        codes = re.blocks[self.d].codes
        out: list[np.ndarray] = [None] * len(re.blocks)  # type: ignore[list-item]
        chunk = max(1, int(4e6 // max(self.nr * self.qd, 1)))
        Rd = np.empty_like(self.Zd)
        Rr = np.empty((re.n, self.r_cols.shape[1]))
        for start in range(0, re.n, chunk):
            sl = slice(start, min(re.n, start + chunk))
            cd = codes[sl]
            AZ = np.einsum("nij,nj->ni", self.Ainv[cd], self.Zd[sl])
            T = np.einsum("nc,nck->nk", AZ, self.B[cd]) - self.Zr[sl].toarray()
            P = T @ self.Sinv
            Rd[sl] = AZ + np.einsum("nij,nj->ni", self.Ainv[cd],
                                    np.einsum("nck,nk->nc", self.B[cd], P))
            Rr[sl] = -np.take_along_axis(P, self.r_cols[sl], axis=1)
        out[self.d] = Rd
        j = 0
        for i in self.rest:
            qb = re.blocks[i].X.shape[1]
            out[i] = Rr[:, j : j + qb]
            j += qb
        return out

    def cond_var(self) -> list[np.ndarray]:
        """Per block, the ``q_b x q_b`` diagonal blocks of ``H^{-1}`` for every level."""
        re = self.re
        out: list[np.ndarray] = [None] * len(re.blocks)  # type: ignore[list-item]
        out[self.d] = self.Ainv + np.einsum("lik,kj,lmj->lim", self.AinvB, self.Sinv,
                                            self.AinvB)
        start = 0
        for i in self.rest:
            b = re.blocks[i]
            qb = b.X.shape[1]
            idx = start + np.arange(b.nlev)[:, None] * qb + np.arange(qb)[None, :]
            out[i] = self.Sinv[idx[:, :, None], idx[:, None, :]]
            start += b.nlev * qb
        return out
