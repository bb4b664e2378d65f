"""Random-effects structure: the relative covariance factor Lambda(theta) and products with Z.

The random effects are ``b = Lambda(theta) u`` with spherical ``u ~ N(0, I)``. For term k with
``q_k`` columns (covariates ``x_i`` for observation i) and grouping factor ``g_k``, the block of
``Lambda`` for every level is the same lower-triangular ``T_k``, so observation i contributes

    eta_i += x_i' T_k u_{k, g_k(i)} = ztilde_i' u_{k, g_k(i)},   ztilde_i = T_k' x_i.

Terms that share a grouping factor (``(1|g) + (0+x|g)``, as ``(1+x||g)`` expands) are merged
into one *block* whose ``T`` is block-diagonal, so a model with one grouping factor always has
a block-diagonal ``H = Lambda' Z' W Z Lambda + I`` with one small ``q x q`` matrix per level.
Models with several grouping factors (crossed, nested) are factored by block elimination along
a symbolic plan made once per model (:class:`StructurePlan`, :class:`BlockedFactor`): blocks
that stay block-diagonal (the largest factor, then factors it nests in) are eliminated one after
the other, and whatever crossed blocks remain form one dense, Cholesky-factored block.

The flat vector ``u`` stores block after block, each level after level with its ``q`` columns
(level-major), as lme4 stores ``u`` within a term.

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

__all__ = ["REStructure", "BlockFactor", "BlockedFactor", "StructurePlan"]

# crossed grouping factors leave a dense block (two nr x nr float64 arrays: the block with its
# Cholesky factor, and its inverse for the gradient); beyond this memory the model is refused
DENSE_BYTES_LIMIT = 1.5e9


@dataclass(frozen=True)
class _Block:
    codes: np.ndarray  # (n,) int64 level codes
    nlev: int
    X: np.ndarray  # (n, q) covariates of all terms in the block
    offset: int  # start of the block in the flat u
    term_index: tuple[int, ...]
    term_cols: tuple[tuple[int, int], ...]  # column slice (start, stop) of each term in X
    group: str = ""  # the grouping factor's name (for messages)
    intercept_only: bool = False  # a single column of ones: Z Lambda is a constant column


def _constant_column(Z: np.ndarray) -> bool:
    """True for the broadcast (stride 0) constant column :meth:`REStructure.ztilde` returns."""
    return Z.shape[1] == 1 and Z.strides[0] == 0


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
            ones = X.shape[1] == 1 and bool(np.all(X[:, 0] == 1.0))
            blocks.append(_Block(codes, nlev, X, offset, tuple(ks), tuple(cols),
                                 str(t0.group), ones))
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
        # several grouping factors: the symbolic analysis of H, once (it also refuses, before
        # any numerical work, a model whose crossed factors need too much memory)
        self._plan = None if self.single else StructurePlan(self.blocks, self.n)
        # sparse level indicators, built on first use (tprod_matrix); shared by refits of the
        # model, and harmless to build twice should two threads race
        self._ind = None

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
        """``Z Lambda`` in compact form: for each block the ``(n, q_b)`` array ``X_b T_b``.

        A block with a single intercept column (``(1|g)``) gives a constant column, returned
        as a read-only broadcast view (stride 0) so that the products below can skip it.
        """
        out = []
        for b, T in zip(self.blocks, self.block_T(theta)):
            if b.intercept_only:
                out.append(np.broadcast_to(T[0, 0], (self.n, 1)))
            else:
                out.append(b.X @ T)
        return out

    # ------------------------------------------------------------------ products
    def split_u(self, u: np.ndarray) -> list[np.ndarray]:
        """View the flat ``u`` as one ``(levels, q_b)`` array per block."""
        return [
            u[b.offset : b.offset + b.nlev * b.X.shape[1]].reshape(b.nlev, b.X.shape[1])
            for b in self.blocks
        ]

    def eta(self, Zt: list[np.ndarray], u: np.ndarray, base: np.ndarray | None = None
            ) -> np.ndarray:
        """``Z Lambda u``, or ``base + Z Lambda u`` (a new array) when ``base`` is given."""
        out = None
        for b, Z, U in zip(self.blocks, Zt, self.split_u(u)):
            for c in range(Z.shape[1]):
                term = U[b.codes, c]  # a new array: scaled in place
                term *= Z[0, c] if _constant_column(Z) else Z[:, c]
                if out is None:
                    out = term
                    if base is not None:  # base + first term, without copying base first
                        out += base
                else:
                    out += term
        if out is None:
            return np.zeros(self.n) if base is None else np.array(base, dtype=float, copy=True)
        return out

    def tprod(self, Zt: list[np.ndarray], v: np.ndarray) -> np.ndarray:
        """``Lambda' Z' v`` for an ``n``-vector ``v``."""
        parts = []
        for b, Z in zip(self.blocks, Zt):
            if _constant_column(Z):
                parts.append(np.bincount(b.codes, weights=v, minlength=b.nlev) * Z[0, 0])
                continue
            cols = [np.bincount(b.codes, weights=v * Z[:, c], minlength=b.nlev)
                    for c in range(Z.shape[1])]
            parts.append(np.column_stack(cols).ravel())
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def tprod_matrix(self, Zt: list[np.ndarray], V: np.ndarray) -> np.ndarray:
        """``Lambda' Z' V`` for an ``(n, p)`` matrix ``V``.

        Each block's group sums are one sparse product ``G_b (z_c * V)`` with the block's
        ``(levels, n)`` indicator matrix ``G_b`` (built once), for each of its ``q_b`` columns.
        """
        V = np.asarray(V, dtype=float)
        parts = []
        for b, Z, G in zip(self.blocks, Zt, self._indicators()):
            if _constant_column(Z):
                parts.append(np.asarray(G @ V) * Z[0, 0])
                continue
            q = Z.shape[1]
            out = np.empty((b.nlev, q, V.shape[1]))
            for c in range(q):
                out[:, c, :] = G @ (Z[:, c, None] * V)
            parts.append(out.reshape(b.nlev * q, V.shape[1]))
        return np.vstack(parts) if len(parts) > 1 else parts[0]

    def _indicators(self) -> list:
        """Per block, the sparse ``(levels, n)`` 0/1 matrix of observation -> level (cached)."""
        if self._ind is None:
            rows = np.arange(self.n)
            self._ind = [sp.csr_matrix((np.ones(self.n), (b.codes, rows)), shape=(b.nlev, self.n))
                         for b in self.blocks]
        return self._ind

    def gather(self, u: np.ndarray) -> list[np.ndarray]:
        """For each block, the ``(n, q_b)`` values ``u_{g(i)}`` seen by each observation."""
        return [U[b.codes] for b, U in zip(self.blocks, self.split_u(u))]

    # ------------------------------------------------------------------ factorization
    def factorize(self, Zt: list[np.ndarray], w: np.ndarray):
        """Factor ``H = Lambda' Z' W Z Lambda + I`` for observation weights ``w``."""
        if self.single:
            return BlockFactor(self.blocks[0], Zt[0], w)
        return BlockedFactor(self._plan, Zt, w)

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
            if _constant_column(Z):
                h = np.bincount(codes, weights=w, minlength=L)
                h *= Z[0, 0] ** 2
            else:
                h = np.bincount(codes, weights=w * Z[:, 0] ** 2, minlength=L)
            h += 1.0
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


# ---------------------------------------------------------------------- several factors
def _index_dtype(size: int):
    return np.int32 if size < 2**31 - 1 else np.int64


def _csr_positions(indptr: np.ndarray, indices: np.ndarray, ncol: int, rows, cols):
    """Positions in a canonical CSR matrix's ``data`` of the entries ``(rows, cols)``.

    Every requested entry must be in the pattern (checked).
    """
    nrow = len(indptr) - 1
    row_of = np.repeat(np.arange(nrow, dtype=np.int64), np.diff(indptr))
    keys = row_of * ncol + indices
    want = np.asarray(rows, dtype=np.int64) * ncol + np.asarray(cols, dtype=np.int64)
    pos = np.searchsorted(keys, want)
    pos = np.minimum(pos, len(keys) - 1)
    if not np.array_equal(keys[pos], want):
        raise AssertionError("internal error: entry outside the symbolic pattern")
    return pos


def _bool_pattern(M) -> sp.csr_matrix:
    """Canonical CSR pattern of ``M`` with every stored value 1.0."""
    M = sp.csr_matrix(M)
    M.sum_duplicates()
    M.sort_indices()
    M.data = np.ones_like(M.data, dtype=float)
    return M


class _Stage:
    """Symbolic data for eliminating one block-diagonal block (``nd`` columns, ``L`` levels).

    The stage's matrix ``M = [[A, B], [B', C]]`` (CSR pattern ``indptr``/``indices``, local
    order: the block's columns level-major first, then the rest) and the pattern of its Schur
    complement ``S = C - B' A^{-1} B`` (the next stage's ``M``; dense flat when ``dense_next``).
    """

    def __init__(self, M: sp.csr_matrix, L: int, qd: int, next_pattern, dense_next: bool,
                 dense_products: bool | None = None):
        N = M.shape[0]
        self.dense_mode = False
        nd = L * qd
        self.L, self.qd, self.nd, self.nr = L, qd, nd, N - nd
        self.nnz = M.nnz
        indptr, indices = M.indptr, M.indices
        row_of = np.repeat(np.arange(N, dtype=np.int64), np.diff(indptr))
        # A: one qd x qd block per level
        lev = np.arange(L)[:, None, None] * qd
        r = lev + np.arange(qd)[None, :, None]
        c = lev + np.arange(qd)[None, None, :]
        self.posA = _csr_positions(indptr, indices, N, np.broadcast_to(r, (L, qd, qd)).ravel(),
                                   np.broadcast_to(c, (L, qd, qd)).ravel()).reshape(L, qd, qd)
        if self.nr == 0:
            return
        # B: rows < nd, columns >= nd; as a CSR nd x nr matrix
        isB = (row_of < nd) & (indices >= nd)
        self.posB = np.flatnonzero(isB)
        Brow = row_of[self.posB]
        Bcol = indices[self.posB] - nd
        self.B_indices = Bcol.astype(np.int32)
        self.B_indptr = np.concatenate([[0], np.cumsum(np.bincount(Brow, minlength=nd))])
        self.posBt = _csr_positions(indptr, indices, N, Bcol + nd, Brow)
        self.B_row = Brow
        if qd > 1:
            # the same entry in the level's other rows (rows of one level share a pattern)
            off = np.arange(len(Brow)) - self.B_indptr[Brow]
            first = (Brow // qd) * qd
            self.sib = self.B_indptr[first[:, None] + np.arange(qd)[None, :]] + off[:, None]
        # C: rows and columns >= nd, located in the next pattern
        isC = (row_of >= nd) & (indices >= nd)
        self.posC = np.flatnonzero(isC)
        Crow, Ccol = row_of[self.posC] - nd, indices[self.posC] - nd
        self.dense_next = dense_next
        nr = self.nr
        if dense_next:
            # the dense block is used through its lower triangle only (Cholesky, dpotri)
            self.posC_S = np.maximum(Crow, Ccol) * nr + np.minimum(Crow, Ccol)
        else:
            self.posC_S = _csr_positions(next_pattern.indptr, next_pattern.indices, nr,
                                         Crow, Ccol)
        # pairs (row r of B, entries l and k of that row): S[l, k] -= B[r, l] G[r, k]
        p = np.diff(self.B_indptr)
        npair = p * p
        total = int(npair.sum())
        # a dense trailing block with a small, well-filled B: BLAS products beat index maps
        if dense_products is None:
            dense_products = nd * nr <= 4e6 and nd * nr * nr <= 50.0 * total
        self.dense_mode = bool(dense_next and dense_products)
        if self.dense_mode:
            self.Bflat = Brow * nr + Bcol
            self.nnz_next = nr * nr
            return
        dt = _index_dtype(max(len(Brow), 1))
        rows = np.repeat(np.arange(nd), npair)
        t = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(npair) - npair, npair)
        pr = p[rows]
        start = self.B_indptr[:-1][rows]
        pl = start + t // pr
        pk = start + t % pr
        del rows, t, pr, start
        self.lower_only = dense_next
        if dense_next:
            # lower triangle only: the pairs with l == k first, then those with l > k
            cl, ck = Bcol[pl], Bcol[pk]
            keep = np.concatenate([np.flatnonzero(cl == ck), np.flatnonzero(cl > ck)])
            del cl, ck
            pl, pk = pl[keep], pk[keep]
            self.n_diag_pairs = int(np.count_nonzero(Bcol[pl] == Bcol[pk]))
        self.pl, self.pk = pl.astype(dt), pk.astype(dt)
        if dense_next:
            ps = Bcol[pl].astype(np.int64) * nr + Bcol[pk]
            self.ps = ps.astype(_index_dtype(nr * nr))
            self.nnz_next = nr * nr
        else:
            self.ps = _csr_positions(next_pattern.indptr, next_pattern.indices, nr,
                                     Bcol[pl], Bcol[pk]).astype(_index_dtype(next_pattern.nnz))
            self.nnz_next = next_pattern.nnz


class StructurePlan:
    """Symbolic analysis of ``H``'s pattern, done once per random-effects structure.

    Parameters
    ----------
    blocks : sequence of _Block
        The structure's blocks (codes, levels, covariates, offset in ``u``).
    n : int
        Number of observations.
    dense_products : bool, optional
        How the last elimination before a dense block accumulates its update: with BLAS
        products of dense copies (True) or through index maps over the pairs of each level's
        entries (False). By default the cheaper one for the shape; both give the same numbers
        (the option exists for the tests).

    Attributes
    ----------
    order : list of int
        Blocks eliminated one after the other, each block-diagonal in what is left of ``H``
        (the largest first: with nested factors the inner one, then the one it nests in).
    dense_blocks : list of int
        Blocks left for the dense, Cholesky-factored last part (crossed factors).
    perm : ndarray
        Elimination order of the entries of ``u``.

    Notes
    -----
    The pattern of ``H`` is the identity plus, for every observation, every pair of its
    random-effect columns. The pattern of each Schur complement is that of its ``C`` block
    plus ``B'B``, found with boolean sparse products; positions of every entry used by
    :class:`BlockedFactor` (the observations' pairs in ``H``, the blocks ``A``, ``B``, ``C``
    of each stage, and for every row of ``B`` the pairs of its entries in the next stage) are
    computed here once, so a factorization only gathers and accumulates values.
    """

    def __init__(self, blocks, n: int, dense_products: bool | None = None) -> None:
        self.blocks = blocks
        q = sum(b.nlev * b.X.shape[1] for b in blocks)
        self.q = q
        # observation i's scalar columns in u (blocks in order, columns within)
        cols = []
        for b in blocks:
            qb = b.X.shape[1]
            for c in range(qb):
                cols.append(b.offset + b.codes * qb + c)
        obs_cols = np.column_stack(cols)  # (n, Q), u order
        Q = obs_cols.shape[1]
        self.Q = Q
        inc = sp.csr_matrix((np.ones(n * Q), obs_cols.ravel(), np.arange(0, n * Q + 1, Q)),
                            shape=(n, q))
        # every level's own q_b x q_b block is in the pattern, observed or not
        diag = sp.block_diag([sp.kron(sp.identity(b.nlev), np.ones((b.X.shape[1],) * 2))
                              for b in blocks], format="csr")
        H0 = _bool_pattern(inc.T @ inc + diag)
        order, dense_blocks = self._choose_order(H0)
        self.order, self.dense_blocks = order, dense_blocks
        perm = np.concatenate(
            [np.arange(blocks[i].offset, blocks[i].offset + blocks[i].nlev * blocks[i].X.shape[1])
             for i in order + dense_blocks])
        self.perm = perm  # new position -> u index
        inv = np.empty(q, dtype=np.int64)
        inv[perm] = np.arange(q)
        self.inv = inv
        M = _bool_pattern(H0[perm][:, perm])
        self.H_indptr, self.H_indices = M.indptr, M.indices
        self.nnz = M.nnz
        self.diag_pos = _csr_positions(M.indptr, M.indices, q, np.arange(q), np.arange(q))
        oc = inv[obs_cols]  # (n, Q) in permuted positions
        pos = _csr_positions(M.indptr, M.indices, q, np.repeat(oc, Q, axis=1).ravel(),
                             np.tile(oc, (1, Q)).ravel())
        self.obs_pos = pos.reshape(n, Q, Q).astype(_index_dtype(M.nnz))
        # positions of each block's diagonal blocks (levels, q_b, q_b), for cond_var
        self.cond_pos = []
        for b in blocks:
            qb = b.X.shape[1]
            base = b.offset + np.arange(b.nlev)[:, None] * qb + np.arange(qb)[None, :]
            rr = inv[base]
            self.cond_pos.append(_csr_positions(
                M.indptr, M.indices, q, np.repeat(rr[:, :, None], qb, axis=2).ravel(),
                np.repeat(rr[:, None, :], qb, axis=1).ravel()).reshape(b.nlev, qb, qb))
        # stages
        self.stages = []
        for k, bi in enumerate(order):
            b = blocks[bi]
            qd = b.X.shape[1]
            nd = b.nlev * qd
            last = k == len(order) - 1
            dense_next = last and bool(dense_blocks)
            if M.shape[0] == nd:
                S = None
            else:
                Bm = M[:nd, nd:]
                Cm = M[nd:, nd:]
                S = None if dense_next else _bool_pattern(Cm + Bm.T @ Bm)
            self.stages.append(_Stage(M, b.nlev, qd, S, dense_next, dense_products))
            M = S
        self.nr_dense = (sum(blocks[i].nlev * blocks[i].X.shape[1] for i in dense_blocks)
                         if dense_blocks else 0)

    def _choose_order(self, H0):
        """Elimination order: repeatedly the largest block still block-diagonal; the rest dense.

        Returns the blocks eliminated one by one and the blocks left to the dense part (both
        lists of block indices). Raises ValueError, before any numerical work, when the dense
        part would need more than ``DENSE_BYTES_LIMIT`` bytes.
        """
        blocks = self.blocks
        sizes = [b.nlev * b.X.shape[1] for b in blocks]
        rem = list(range(len(blocks)))
        cur = np.concatenate([np.arange(blocks[i].offset, blocks[i].offset + sizes[i])
                              for i in rem])
        M = H0[cur][:, cur]  # pattern over the remaining blocks, in the order of `rem`
        order: list[int] = []

        def diagonal(sub, qb) -> bool:
            sub = sub.tocoo()
            return bool(np.all(sub.row // qb == sub.col // qb))

        def single_level_rows(sub, qb) -> bool:
            # every row touches at most one level of the block (pattern stays block-diagonal)
            sub = sub.tocoo()
            if sub.nnz == 0:
                return True
            node = sub.col // qb
            lo = np.full(sub.shape[0], np.iinfo(np.int64).max)
            hi = np.full(sub.shape[0], -1)
            np.minimum.at(lo, sub.row, node)
            np.maximum.at(hi, sub.row, node)
            used = hi >= 0
            return bool(np.all(lo[used] == hi[used]))

        diag_ok = {i: True for i in rem}  # every block is block-diagonal in H itself
        while True:
            starts = dict(zip(rem, np.cumsum([0] + [sizes[i] for i in rem])[:-1]))
            cand = [i for i in rem if diag_ok[i]]
            if not cand:
                break
            best = max(cand, key=lambda i: sizes[i])
            order.append(best)
            rest = [i for i in rem if i != best]
            if not rest:
                return order, []
            sl = np.arange(starts[best], starts[best] + sizes[best])
            keep = {i: np.arange(starts[i], starts[i] + sizes[i]) for i in rest}
            Bm = M[sl][:, np.concatenate([keep[i] for i in rest])]
            # which remaining blocks stay block-diagonal once `best` is eliminated
            new_ok, col = {}, 0
            for i in rest:
                qb = blocks[i].X.shape[1]
                Cii = M[keep[i]][:, keep[i]]
                new_ok[i] = diagonal(Cii, qb) and single_level_rows(Bm[:, col:col + sizes[i]], qb)
                col += sizes[i]
            rem, diag_ok = rest, new_ok
            if not any(new_ok.values()):
                break  # the rest is dense: no need for its pattern
            fill = int(np.sum(np.diff(Bm.indptr).astype(np.int64) ** 2))
            if fill > 4e8:
                self._refuse(rest, f"their elimination fills more than {4e8:.0e} entries")
            allk = np.concatenate([keep[i] for i in rest])
            M = _bool_pattern(M[allk][:, allk] + Bm.T @ Bm)
        nr = sum(sizes[i] for i in rem)
        if 16.0 * nr * nr > DENSE_BYTES_LIMIT:
            self._refuse(rem, f"they need a dense block of {nr} x {nr} random effects "
                              f"({16.0 * nr * nr / 1e9:.1f} GB)")
        return order, rem

    def _refuse(self, rem, why: str) -> None:
        """A clear error for crossed random effects too large for the dense part."""
        groups = ", ".join(repr(self.blocks[i].group) for i in rem)
        raise ValueError(
            f"the crossed random effects of {groups} are too large to fit: {why}, more than "
            f"glmmteach's limit of {DENSE_BYTES_LIMIT / 1e9:.1f} GB. Nest or drop one of the "
            "crossed grouping factors, or fit a subset of its levels"
        )


class BlockedFactor:
    r"""``H = Lambda'Z'WZLambda + I`` factored by block elimination along a symbolic plan.

    Notes
    -----
    The random effects are ordered in stages: each stage's block (e.g. subjects, or schools
    before districts) is block-diagonal in what is left of ``H`` and is eliminated,

    .. math:: M = \begin{pmatrix} A & B \\ B' & C \end{pmatrix}, \qquad
        S = C - B' A^{-1} B, \qquad \log|M| = \log|A| + \log|S|,

    ``S`` becoming the next stage's ``M``. Nested factors keep every stage block-diagonal;
    with crossed factors the last stage is dense and Cholesky-factored. The pattern of every
    ``S`` is fixed (symbolic analysis once, in :class:`StructurePlan`); per factorization
    only the values are accumulated through precomputed index maps.

    The selected inverse (entries of ``H^{-1}`` on the pattern of ``H``) follows from the
    same blocks backwards (Takahashi et al. 1973; Erisman & Tinney 1975): with
    ``G = A^{-1}B``,

    .. math:: (M^{-1})_{rd} = -S^{-1} G', \qquad (M^{-1})_{dd} = A^{-1} + G S^{-1} G',

    each needed only on the pattern of ``B`` and the diagonal blocks of ``A``, which uses
    ``S^{-1}`` only on the pattern of ``S``.
    """

    def __init__(self, plan: StructurePlan, Zt, w: np.ndarray) -> None:
        self.plan = plan
        Zc = np.column_stack(Zt) if len(Zt) > 1 else Zt[0]
        self.Zc = Zc
        Q = plan.Q
        n = Zc.shape[0]
        # H's values on its pattern
        WZ = Zc * w[:, None]
        vals = (WZ[:, :, None] * Zc[:, None, :]).reshape(n, Q * Q)
        data = np.bincount(plan.obs_pos.ravel(), weights=vals.ravel(), minlength=plan.nnz)
        data[plan.diag_pos] += 1.0
        logdet = 0.0
        self.Ainv, self.G = [], []
        for st in plan.stages:
            A = data[st.posA]
            if st.qd == 1:
                a = A[:, 0, 0]
                logdet += float(np.sum(np.log(a)))
                Ainv = 1.0 / a
            else:
                chol = np.linalg.cholesky(A)
                logdet += float(2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
                Ainv = np.linalg.inv(A)
            self.Ainv.append(Ainv)
            if st.nr == 0:
                self.G.append(None)
                break
            Bd = data[st.posB]
            if st.qd == 1:
                Gd = Bd * Ainv[st.B_row]
            else:
                lev, c = st.B_row // st.qd, st.B_row % st.qd
                Gd = np.einsum("ec,ec->e", Ainv[lev, c, :], Bd[st.sib])
            self.G.append(Gd)
            nxt = np.zeros(st.nnz_next)
            nxt[st.posC_S] = data[st.posC]
            if st.dense_mode:
                Bm = np.zeros(st.nd * st.nr)
                Bm[st.Bflat] = Bd
                Gm = np.zeros(st.nd * st.nr)
                Gm[st.Bflat] = Gd
                Gm = Gm.reshape(st.nd, st.nr)
                self._Gdense = Gm
                nxt -= (Bm.reshape(st.nd, st.nr).T @ Gm).ravel()
            else:
                nxt -= np.bincount(st.ps, weights=Bd[st.pl] * Gd[st.pk],
                                   minlength=st.nnz_next)
            data = nxt
        if plan.dense_blocks:
            nr = plan.nr_dense
            Sd = data.reshape(nr, nr)
            self.cho = scipy.linalg.cho_factor(Sd, lower=True, check_finite=False,
                                               overwrite_a=True)
            logdet += float(2.0 * np.sum(np.log(np.diag(self.cho[0]))))
        else:
            self.cho = None
        self.logdet = logdet
        self._Gsp: dict[int, sp.csr_matrix] = {}
        self._sel = None

    # ------------------------------------------------------------------ solves
    def _g_matrix(self, k: int) -> sp.csr_matrix:
        if k not in self._Gsp:
            st = self.plan.stages[k]
            self._Gsp[k] = sp.csr_matrix((self.G[k], st.B_indices, st.B_indptr),
                                         shape=(st.nd, st.nr))
        return self._Gsp[k]

    def _gt_times(self, k: int, rd: np.ndarray) -> np.ndarray:
        """``G' rd`` for the stage's ``G = A^{-1} B``."""
        st = self.plan.stages[k]
        if st.dense_mode:
            return self._Gdense.T @ rd
        if rd.ndim == 1:
            return np.bincount(st.B_indices, weights=self.G[k] * rd[st.B_row], minlength=st.nr)
        return self._g_matrix(k).T @ rd

    def _g_times(self, k: int, x: np.ndarray) -> np.ndarray:
        """``G x``."""
        st = self.plan.stages[k]
        if st.dense_mode:
            return self._Gdense @ x
        if x.ndim == 1:
            return np.bincount(st.B_row, weights=self.G[k] * x[st.B_indices], minlength=st.nd)
        return self._g_matrix(k) @ x

    def _ainv_apply(self, k: int, R: np.ndarray) -> np.ndarray:
        st, Ainv = self.plan.stages[k], self.Ainv[k]
        if st.qd == 1:
            return R * (Ainv if R.ndim == 1 else Ainv[:, None])
        if R.ndim == 1:
            return np.einsum("lij,lj->li", Ainv, R.reshape(st.L, st.qd)).ravel()
        p = R.shape[1]
        return np.einsum("lij,ljp->lip", Ainv, R.reshape(st.L, st.qd, p)).reshape(st.nd, p)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``H^{-1} rhs`` for a vector or a matrix with ``q`` rows."""
        plan = self.plan
        cur = np.asarray(rhs, dtype=float)[plan.perm]
        # forward: the rest's right-hand side becomes r_r - G' r_d, stage by stage
        pieces = []
        for k, st in enumerate(plan.stages):
            rd = cur[: st.nd]
            pieces.append(rd)
            if st.nr == 0:
                cur = None
                break
            cur = cur[st.nd :] - self._gt_times(k, rd)
        x = (scipy.linalg.cho_solve(self.cho, cur, check_finite=False)
             if cur is not None else None)
        # backward: x_d = A^{-1} r_d - G x_r
        for k in range(len(pieces) - 1, -1, -1):
            xd = self._ainv_apply(k, pieces[k])
            if x is not None:
                xd = xd - self._g_times(k, x)
                x = np.concatenate([xd, x])
            else:
                x = xd
        out = np.empty_like(x)
        out[plan.perm] = x
        return out

    # ------------------------------------------------------------------ selected inverse
    def selected_inverse(self) -> np.ndarray:
        """Entries of ``H^{-1}`` on the (permuted) pattern of ``H``, aligned with its data."""
        if self._sel is not None:
            return self._sel
        plan = self.plan
        if self.cho is not None:
            nr = plan.nr_dense
            inv, info = scipy.linalg.lapack.dpotri(self.cho[0], lower=1)
            if info != 0:
                raise np.linalg.LinAlgError("inverting the dense block failed")
            if plan.stages[-1].dense_mode:
                # dpotri fills the lower triangle: mirror it in panels (no n x n temporaries)
                for i0 in range(0, nr, 256):
                    i1 = min(i0 + 256, nr)
                    inv[i0:i1, i1:] = inv[i1:, i0:i1].T
                    d = np.tril(inv[i0:i1, i0:i1])
                    inv[i0:i1, i0:i1] = d + np.tril(d, -1).T
            Z = inv.ravel()
        else:
            Z = None
        for k in range(len(plan.stages) - 1, -1, -1):
            st, Ainv, Gd = plan.stages[k], self.Ainv[k], self.G[k]
            out = np.zeros(st.nnz)
            if st.nr == 0:
                out[st.posA] = Ainv[:, None, None] if st.qd == 1 else Ainv
                Z = out
                continue
            # T = G S^{-1} on the pattern of B
            if st.dense_mode:
                T = (self._Gdense @ Z.reshape(st.nr, st.nr)).ravel()[st.Bflat]
            else:
                z = Z[st.ps]
                T = np.bincount(st.pk, weights=Gd[st.pl] * z, minlength=len(Gd))
                if st.lower_only:  # the mirrored pairs (k, l) of the pairs with l > k
                    o = st.n_diag_pairs
                    T += np.bincount(st.pl[o:], weights=Gd[st.pk[o:]] * z[o:],
                                     minlength=len(Gd))
            if st.qd == 1:
                dd = Ainv + np.bincount(st.B_row, weights=T * Gd, minlength=st.L)
                out[st.posA] = dd[:, None, None]
            else:
                qd = st.qd
                lev, c = st.B_row // qd, st.B_row % qd
                dd = Ainv.copy().reshape(st.L * qd * qd)
                for c2 in range(qd):
                    dd += np.bincount(lev * qd * qd + c * qd + c2, weights=T * Gd[st.sib[:, c2]],
                                      minlength=st.L * qd * qd)
                out[st.posA] = dd.reshape(st.L, qd, qd)
            out[st.posB] = -T
            out[st.posBt] = -T
            out[st.posC] = Z[st.posC_S]
            Z = out
        self._sel = Z
        return Z

    def leverage(self) -> list[np.ndarray]:
        """Per block, ``R_i``: the part of ``H^{-1} ztilde_i`` at observation i's own levels."""
        Z = self.selected_inverse()
        Rall = np.einsum("iab,ib->ia", Z[self.plan.obs_pos], self.Zc)
        out, j = [], 0
        for b in self.plan.blocks:
            qb = b.X.shape[1]
            out.append(Rall[:, j : j + qb])
            j += qb
        return out

    def cond_var(self) -> list[np.ndarray]:
        """Per block, the ``q_b x q_b`` diagonal blocks of ``H^{-1}`` for every level."""
        Z = self.selected_inverse()
        return [Z[pos] for pos in self.plan.cond_pos]
