"""R's default random number generation, reproduced bit for bit.

The course reproduces the article's simulated data sets, which were generated in R with calls
such as ``set.seed(1); sample(c("control", "treat"), 250, TRUE)`` or
``set.seed(3); rnorm(250, 0, 0.03)``. This module re-implements, from the published algorithms
and R's documented behaviour, the generators R (>= 3.6) uses by default
(``RNGkind()`` = ``"Mersenne-Twister", "Inversion", "Rejection"``), so that the same seed gives
the same numbers, to the last bit, in Python.

Public API
----------
:class:`RRandom`
    One R random stream after ``set.seed(seed)``, with the methods :meth:`RRandom.runif`,
    :meth:`RRandom.rnorm`, :meth:`RRandom.sample` and :meth:`RRandom.rbinom`. Successive calls
    share the stream exactly as successive R calls after one ``set.seed``.
:func:`qnorm`
    The standard normal quantile by Wichura's algorithm AS 241, as R's ``qnorm`` computes it.

The reference values in ``tests/data/r_rng_reference.json`` come from R itself (see
``tools/r_rng_reference.R``).

Imports only ``glmmteach.warnings``, ``glmmteach._util`` and the other modules at the side
(``rcompat``, ``simulate``, ``datasets``); never ``model``, ``inference``, ``diagnostics`` or
``course``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from glmmteach.warnings import RCompatWarning

__all__ = ["RRandom", "qnorm"]

# 2^-32: scales a 32-bit Mersenne-Twister word into [0, 1).
_TWO_M32 = 2.3283064365386963e-10
# Half of R's constant 2.328306437080797e-10 (the decimal ~ 1/(2^32 - 1), one ulp below the
# nearest double to it): R's replacement for a uniform that came out exactly 0 (or 1).
_HALF_I2_32M1 = 0.5 * 2.328306437080797e-10
# 2^27: the resolution of the two-uniform construction used by the Inversion normal generator.
_BIG = 134217728.0
_INT_MAX = 2147483647
# Without replacement and for populations above this size, R's sample.int switches to a
# hashing algorithm (the default of its `useHash` argument).
_HASH_THRESHOLD = 1e7
_CHUNK = 2048

# ---------------------------------------------------------------------------------------------
# Wichura (1988), algorithm AS 241 (PPND16): the published coefficients.
# Central region |p - 1/2| <= 0.425, in r = 0.180625 - q^2 (q = p - 1/2).
_A = (
    3.3871328727963666080,
    133.14166789178437745,
    1971.5909503065514427,
    13731.693765509461125,
    45921.953931549871457,
    67265.770927008700853,
    33430.575583588128105,
    2509.0809287301226727,
)
_B = (
    1.0,
    42.313330701600911252,
    687.18700749205790830,
    5394.1960214247511077,
    21213.794301586595867,
    39307.895800092710610,
    28729.085735721942674,
    5226.4952788528545610,
)
# Intermediate tail, r = sqrt(-log(min(p, 1-p))) <= 5, in r - 1.6.
_C = (
    1.42343711074968357734,
    4.63033784615654529590,
    5.76949722146069140550,
    3.64784832476320460504,
    1.27045825245236838258,
    0.241780725177450611770,
    0.0227238449892691845833,
    7.74545014278341407640e-4,
)
_D = (
    1.0,
    2.05319162663775882187,
    1.67638483018380384940,
    0.689767334985100004550,
    0.148103976427480074590,
    0.0151986665636164571966,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)
# Far tail, r > 5, in r - 5.
_E = (
    6.65790464350110377720,
    5.46378491116411436990,
    1.78482653991729133580,
    0.296560571828504891230,
    0.0265321895265761230930,
    0.00124266094738807843860,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
)
_F = (
    1.0,
    0.599832206555887937690,
    0.136929880922735805310,
    0.0148753612908506148525,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
)


def _horner(coef, r):
    """Evaluate ``coef[7] r^7 + ... + coef[0]`` as ``((c7 r + c6) r + ...) r + c0``.

    Works elementwise on floats and on float64 arrays; every step is one IEEE multiplication
    followed by one addition, the evaluation order of AS 241 (and so of R).
    """
    acc = r * coef[7] + coef[6]
    for c in coef[5::-1]:
        acc = acc * r + c
    return acc


def _ppnd16_tail(r_prob: float) -> float:
    """AS 241 in the tails: the magnitude of the quantile whose smaller tail area is r_prob."""
    r = math.sqrt(-math.log(r_prob))
    if r <= 5.0:
        r = r - 1.6
        return _horner(_C, r) / _horner(_D, r)
    r = r - 5.0
    return _horner(_E, r) / _horner(_F, r)


# ---------------------------------------------------------------------------------------------
# Input checks (each names the offending argument).


def _is_intlike_type(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _as_int(value, name: str) -> int:
    """Return ``value`` as a Python int if it is an integer (or an integer-valued float)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be an integer, got the boolean {value!r}.")
    if _is_intlike_type(value):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isfinite(v) and v == math.floor(v):
            return int(v)
    raise ValueError(f"`{name}` must be an integer, got {value!r}.")


def _as_count(value, name: str) -> int:
    """A non-negative integer count such as R's ``n``."""
    k = _as_int(value, name)
    if k < 0:
        raise ValueError(f"`{name}` must be a non-negative integer, got {k}.")
    return k


def _as_param(value, name: str) -> np.ndarray:
    """A non-empty 1-d float64 parameter vector (a scalar becomes length 1)."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"`{name}` must be numeric, got the string {value!r}.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be a number or a vector of numbers: {exc}") from None
    if arr.ndim > 1:
        raise ValueError(f"`{name}` must be a scalar or a 1-d vector, got shape {arr.shape}.")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    return arr


def _check_recycle(n: int, arr: np.ndarray, name: str) -> None:
    """R recycles a parameter vector ``arr`` as ``arr[i % len(arr)]``; require a clean fit."""
    length = arr.size
    if length != 1 and n % length != 0:
        raise ValueError(
            f"`{name}` has length {length}, which is neither 1 nor a divisor of n = {n}; "
            "R would recycle it silently (or ignore its tail), which is almost always a bug. "
            f"Pass a scalar or a vector whose length divides n."
        )


def _recycled(n: int, arr: np.ndarray) -> np.ndarray:
    return arr if arr.size == n else np.resize(arr, n)


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite (no NaN or infinity).")


def _check_seed(seed) -> int:
    if isinstance(seed, (str, bytes)):
        raise ValueError(f"`seed` must be an integer (as in R's set.seed), got {seed!r}.")
    seed = _as_int(seed, "seed")
    if not -_INT_MAX <= seed <= _INT_MAX:
        raise ValueError(
            f"`seed` must lie in [-2147483647, 2147483647] (R's integer range), got {seed}."
        )
    return seed


def _mt_key_from_seed(seed: int) -> np.ndarray:
    """R's ``set.seed`` initial scrambling: the Mersenne-Twister state as 624 uint32 words.

    The seed is taken modulo 2^32 and stepped 50 times by the congruential generator
    ``s -> 69069 s + 1 (mod 2^32)``; continuing the same recursion fills R's 625-word seed
    vector, whose first word (the position ``mti``) set.seed then overwrites with 624.
    """
    s = seed & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = []
    for _ in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        words.append(s)
    return np.array(words[1:], dtype=np.uint32)


# ---------------------------------------------------------------------------------------------


class RRandom:
    """One R random number stream, as after ``set.seed(seed)`` in R >= 3.6.

    Parameters
    ----------
    seed : int
        An integer in ``[-2147483647, 2147483647]`` (R's ``set.seed`` range; negative seeds
        are valid and reproduce R). Python and numpy integers, and integer-valued floats,
        are accepted; fractions, booleans and strings raise ``ValueError``.

    Notes
    -----
    The kinds are R's defaults: ``"Mersenne-Twister"`` uniforms, ``"Inversion"`` normals and
    ``"Rejection"`` sampling. All methods draw from one stream in call order, so::

        rng = RRandom(1)
        trt = rng.sample(["control", "treat"], 250, replace=True)
        sex = rng.sample(["female", "male"], 250, replace=True)

    reproduces ``set.seed(1); trt <- sample(c("control", "treat"), 250, TRUE);
    sex <- sample(c("female", "male"), 250, TRUE)``.

    **Seeding.** ``set.seed(s)`` scrambles ``s`` (mod 2^32) with 50 steps of the linear
    congruential generator ``s <- 69069 s + 1 (mod 2^32)``, then fills the 625 words of R's
    Mersenne-Twister seed vector by continuing the recursion. The first word is the position
    ``mti``, which set.seed sets to 624, so the first draw regenerates the whole block; the other
    624 are the MT19937 state.

    **Uniforms.** The generator is MT19937 (Matsumoto & Nishimura 1998) with the standard
    tempered 32-bit output ``y``; R returns ``u = y * 2^-32`` and, to stay strictly inside
    (0, 1), replaces ``u <= 0`` by half of ``2.328306437080797e-10`` (about
    ``1 / (2^32 - 1)``) and ``1 - u <= 0`` by one minus that.
    numpy's :class:`numpy.random.MT19937` bit generator, given the same 624 words and position
    624, yields the same words, so uniforms are produced in vectorised chunks and buffered;
    the buffer is invisible: every method consumes exactly the uniforms R would.

    **Differences from R, by design.** ``n`` must be an integer (R also accepts a vector and
    uses its length). Parameter vectors must have length 1 or a length dividing ``n`` (R
    recycles any length silently, ignoring a tail beyond ``n``). Arguments for which R returns
    NaN/NA with a warning raise ``ValueError`` here (negative ``sd``, ``max < min``, non-finite
    ``mean``/``sd``/``min``/``max``, non-integer or negative ``size``), except ``rbinom``'s
    ``prob`` outside [0, 1], which gives NaN and an
    :class:`~glmmteach._warnings.RCompatWarning` as in R. Other ``RNGkind`` settings (and the
    pre-3.6 ``sample.kind = "Rounding"``) are not reproduced.

    References
    ----------
    Matsumoto, M. and Nishimura, T. (1998). Mersenne Twister: a 623-dimensionally
    equidistributed uniform pseudo-random number generator. *ACM Transactions on Modeling and
    Computer Simulation* 8, 3-30.

    Wichura, M. J. (1988). Algorithm AS 241: the percentage points of the normal distribution.
    *Applied Statistics* 37, 477-484.

    Kachitvichyanukul, V. and Schmeiser, B. W. (1988). Binomial random variate generation.
    *Communications of the ACM* 31, 216-222.
    """

    def __init__(self, seed: int):
        self.seed = _check_seed(seed)
        bitgen = np.random.MT19937(0)
        state = bitgen.state
        state["state"] = {"key": _mt_key_from_seed(self.seed), "pos": 624}
        bitgen.state = state
        self._bitgen = bitgen
        # Buffered uniforms: an array and, when not empty, the same values as a list (fast
        # scalar access); `_pos` is the index of the next unused uniform in both.
        self._buf = np.empty(0)
        self._lst: list[float] = []
        self._pos = 0

    def __repr__(self) -> str:
        return f"RRandom(seed={self.seed})"

    # -- uniform stream ------------------------------------------------------------------------

    def _fresh(self, k: int) -> np.ndarray:
        """The next ``k`` uniforms straight from the Mersenne-Twister (not via the buffer)."""
        u = self._bitgen.random_raw(k).astype(np.float64) * _TWO_M32
        if k and u.min() <= 0.0:
            u[u <= 0.0] = _HALF_I2_32M1
        # (1 - u <= 0 cannot happen for 32-bit words, but R guards it too.)
        u[1.0 - u <= 0.0] = 1.0 - _HALF_I2_32M1
        return u

    def _refill(self, k: int = _CHUNK) -> None:
        """Make at least ``k`` unused uniforms available in the buffer array."""
        rest = self._buf[self._pos :]
        self._buf = np.concatenate([rest, self._fresh(max(k, _CHUNK))])
        self._lst = []  # rebuilt lazily by _unif
        self._pos = 0

    def _take(self, k: int) -> np.ndarray:
        """Consume and return the next ``k`` uniforms as an array."""
        avail = self._buf.size - self._pos
        if k <= avail:
            out = self._buf[self._pos : self._pos + k].copy()
            self._pos += k
            return out
        out = np.concatenate([self._buf[self._pos :], self._fresh(k - avail)])
        self._buf = np.empty(0)
        self._lst = []
        self._pos = 0
        return out

    def _peek(self, k: int) -> np.ndarray:
        """The next ``k`` uniforms without consuming them (pair with :meth:`_skip`)."""
        if self._buf.size - self._pos < k:
            self._refill(k)
        return self._buf[self._pos : self._pos + k]

    def _skip(self, k: int) -> None:
        self._pos += k

    def _unif(self) -> float:
        """Consume one uniform (R's ``unif_rand``) as a Python float."""
        pos = self._pos
        if pos >= len(self._lst):
            # The list mirror is exhausted or stale: rebase the buffer and rebuild it.
            if pos >= self._buf.size:
                self._refill()
            else:
                self._buf = self._buf[pos:]
                self._pos = 0
            self._lst = self._buf.tolist()
            pos = 0
        self._pos = pos + 1
        return self._lst[pos]

    # -- runif ---------------------------------------------------------------------------------

    def runif(self, n, min=0.0, max=1.0) -> np.ndarray:
        """Uniform draws, as R's ``runif(n, min, max)``.

        Parameters
        ----------
        n : int
            Number of draws, ``>= 0``.
        min, max : float or array_like
            Finite bounds with ``min <= max``; vectors are recycled as in R (their lengths must
            be 1 or divide ``n``).

        Returns
        -------
        numpy.ndarray
            float64 array of length ``n``.

        Notes
        -----
        Each draw is ``min + (max - min) * u`` with one uniform ``u``. As in R, a draw with
        ``min == max`` returns ``min`` and consumes no uniform.
        """
        n = _as_count(n, "n")
        a = _as_param(min, "min")
        b = _as_param(max, "max")
        for arr, name in ((a, "min"), (b, "max")):
            _check_finite(arr, name)
            _check_recycle(n, arr, name)
        a = _recycled(n, a)
        b = _recycled(n, b)
        if np.any(b < a):
            raise ValueError("`max` must be >= `min` (R would return NaN).")
        draw = a != b
        out = a.copy()
        m = int(np.count_nonzero(draw))
        if m:
            u = self._take(m)
            out[draw] = a[draw] + (b[draw] - a[draw]) * u
        return out

    # -- rnorm ---------------------------------------------------------------------------------

    def rnorm(self, n, mean=0.0, sd=1.0) -> np.ndarray:
        """Normal draws, as R's ``rnorm(n, mean, sd)`` with the Inversion method.

        Parameters
        ----------
        n : int
            Number of draws, ``>= 0``.
        mean, sd : float or array_like
            Finite means and standard deviations ``sd >= 0``; vectors are recycled as in R
            (their lengths must be 1 or divide ``n``).

        Returns
        -------
        numpy.ndarray
            float64 array of length ``n``.

        Notes
        -----
        A single uniform has only 32 random bits, too coarse for the normal tails, so each
        standard normal uses two uniforms ``u1, u2``:
        ``z = qnorm((floor(2^27 u1) + u2) / 2^27)`` with :func:`qnorm` (AS 241). The draw is
        ``mean + sd * z``. As in R, a draw with ``sd == 0`` returns ``mean`` and consumes no
        uniforms. R returns NaN for ``sd < 0`` or a non-finite argument; here they raise.
        """
        n = _as_count(n, "n")
        mu = _as_param(mean, "mean")
        sigma = _as_param(sd, "sd")
        for arr, name in ((mu, "mean"), (sigma, "sd")):
            _check_finite(arr, name)
            _check_recycle(n, arr, name)
        if np.any(sigma < 0):
            raise ValueError("`sd` must be >= 0 (R would return NaN).")
        mu = _recycled(n, mu)
        sigma = _recycled(n, sigma)
        out = mu.copy()
        draw = sigma != 0
        m = int(np.count_nonzero(draw))
        if m:
            u = self._take(2 * m)
            v = np.floor(_BIG * u[0::2]) + u[1::2]
            z = _qnorm_std(v / _BIG)
            out[draw] = mu[draw] + sigma[draw] * z
        return out

    # -- sample --------------------------------------------------------------------------------

    def _unif_index(self, m: int) -> int:
        """R's rejection sampler for an index uniform on ``0..m-1`` (``m >= 1``)."""
        bits = math.ceil(math.log2(m))
        nchunks = bits // 16 + 1
        mask = (1 << bits) - 1
        unif = self._unif
        while True:
            v = 0
            for _ in range(nchunks):
                v = (v << 16) | int(unif() * 65536.0)
            v &= mask
            if v < m:
                return v

    def _candidates(self, m: int, batch: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Peek at the next ``batch`` tries of the rejection sampler on ``0..m-1``.

        Returns the accepted values in stream order, for each the number of uniforms consumed
        up to and including it, and the uniforms per try. Nothing is consumed (see ``_skip``).
        """
        bits = math.ceil(math.log2(m))
        nchunks = bits // 16 + 1
        u = self._peek(batch * nchunks).reshape(batch, nchunks)
        chunks = np.floor(u * 65536.0).astype(np.uint64)
        v = chunks[:, 0]
        for c in range(1, nchunks):
            v = v * np.uint64(65536) + chunks[:, c]
        v &= np.uint64((1 << bits) - 1)
        ok = np.flatnonzero(v < np.uint64(m))
        return v[ok].astype(np.int64), (ok + 1) * nchunks, nchunks

    def _indices_replace(self, m: int, size: int) -> np.ndarray:
        """``size`` independent indices in ``0..m-1``, vectorised over batches of tries."""
        parts = []
        need = size
        while need > 0:
            # Acceptance probability is > 1/2, so this batch almost always suffices.
            batch = 2 * need + 16
            vals, used, nchunks = self._candidates(m, batch)
            if vals.size >= need:
                parts.append(vals[:need])
                self._skip(int(used[need - 1]))
                need = 0
            else:
                parts.append(vals)
                need -= vals.size
                self._skip(batch * nchunks)
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def _indices_hash(self, m: int, size: int) -> np.ndarray:
        """R's ``useHash`` sampler: independent indices in ``0..m-1``, duplicates redrawn."""
        parts = []
        seen = np.empty(0, dtype=np.int64)
        need = size
        accept = m / 2.0 ** math.ceil(math.log2(m))
        while need > 0:
            # Tries expected to yield `need` new values, with 10% slack.
            fresh_rate = accept * max(1.0 - (seen.size + need / 2) / m, 0.25)
            batch = int(1.1 * need / fresh_rate) + 16
            vals, used, nchunks = self._candidates(m, batch)
            _, first = np.unique(vals, return_index=True)
            fresh = np.zeros(vals.size, dtype=bool)
            fresh[first] = True
            fresh &= ~np.isin(vals, seen)
            keep = np.flatnonzero(fresh)
            if keep.size >= need:
                keep = keep[:need]
                self._skip(int(used[keep[-1]]))
                need = 0
            else:
                need -= keep.size
                self._skip(batch * nchunks)
            parts.append(vals[keep])
            seen = np.concatenate([seen, vals[keep]])
        return np.concatenate(parts)

    def _indices_noreplace(self, m: int, size: int) -> np.ndarray:
        """R's partial Fisher-Yates shuffle, or its hashing variant for large populations."""
        if m > _HASH_THRESHOLD and size <= m / 2:
            return self._indices_hash(m, size)
        out = np.empty(size, dtype=np.int64)
        # Draw slot j among the m remaining, take its element, move the last remaining element
        # into slot j. Slots never touched hold their own index, so a dict of moves suffices.
        moved: dict[int, int] = {}
        unif_index = self._unif_index
        for i in range(size):
            j = unif_index(m)
            out[i] = moved.get(j, j)
            m -= 1
            moved[j] = moved.get(m, m)
        return out

    def sample(self, x, size=None, replace=False):
        """Random sample with equal probabilities, as R's ``sample(x, size, replace)``.

        Parameters
        ----------
        x : int or sequence
            An integer ``n >= 1`` means the population ``1..n`` (as R's ``sample(n)``);
            otherwise a sequence (list, tuple, range, 1-d numpy array, pandas Series or Index)
            whose elements are sampled. A string is rejected (ambiguous). Unlike R, a sequence of
            length one is sampled as such, not read as ``1..x[0]``.
        size : int, optional
            Number of items; default the population size.
        replace : bool, default False
            Sample with replacement.

        Returns
        -------
        numpy.ndarray or list or pandas.Series
            For an int ``x`` an int64 array of values in ``1..n``; for a numpy array, a pandas
            Series or Index the selected elements in the same type (a Series keeps its index
            labels); for any other sequence a list of the selected elements.

        Notes
        -----
        R >= 3.6 ("Rejection" sample kind) draws an index uniform on ``0..m-1`` as follows:
        with ``bits = ceil(log2 m)``, it builds an integer from ``floor(2^16 u)`` chunks of
        successive uniforms (``bits // 16 + 1`` chunks, the latest in the lowest bits), keeps its
        lowest ``bits`` bits and rejects values ``>= m``, trying again. So ``m = 1`` still
        consumes one uniform, ``m <= 32768`` one per try and ``65536 <= m < 2^32`` two.

        With replacement the indices are independent. Without replacement R runs a partial
        Fisher-Yates shuffle: draw ``j`` among the ``m`` remaining slots, output the element
        in slot ``j``, move the element in the last slot into slot ``j`` and decrease ``m``.
        For populations above 10^7 and ``size <= m / 2`` R (``useHash``) instead draws
        independent indices on the full population, redrawing duplicates; this is reproduced.
        """
        if not isinstance(replace, (bool, np.bool_)):
            raise ValueError(f"`replace` must be True or False, got {replace!r}.")
        if isinstance(x, (bool, np.bool_)):
            raise ValueError("`x` must be a positive integer or a sequence, got a boolean.")
        as_range = _is_intlike_type(x)
        if as_range:
            m = int(x)
            if m < 1:
                raise ValueError(f"`x` as an integer must be >= 1 (the population 1..x), got {m}.")
        elif isinstance(x, (str, bytes)):
            raise ValueError(
                "`x` must be a sequence of items or an integer, not a string; "
                "wrap it in a list to sample it as one item."
            )
        elif isinstance(x, np.ndarray):
            if x.ndim != 1:
                raise ValueError(f"`x` must be one-dimensional, got shape {x.shape}.")
            m = x.shape[0]
        elif isinstance(x, Sequence) or hasattr(x, "iloc") or hasattr(x, "take"):
            m = len(x)
        else:
            raise ValueError(
                f"`x` must be a positive integer or a sequence, got {type(x).__name__}."
            )
        k = m if size is None else _as_count(size, "size")
        if not replace and k > m:
            raise ValueError(
                f"`size` ({k}) cannot exceed the population size ({m}) without replacement; "
                "use replace=True."
            )
        if replace and m == 0 and k > 0:
            raise ValueError("`x` is empty: nothing to sample from.")
        if k == 0:
            idx = np.empty(0, dtype=np.int64)
        elif replace or k < 2:
            idx = self._indices_replace(m, k)
        else:
            idx = self._indices_noreplace(m, k)
        if as_range:
            return idx + 1
        if isinstance(x, np.ndarray):
            return x[idx]
        if hasattr(x, "iloc"):  # pandas Series
            return x.iloc[idx]
        if hasattr(x, "take") and not isinstance(x, Sequence):  # pandas Index, Categorical
            return x.take(idx)
        return [x[i] for i in idx.tolist()]

    # -- rbinom --------------------------------------------------------------------------------

    def rbinom(self, n, size, prob) -> np.ndarray:
        """Binomial draws, as R's ``rbinom(n, size, prob)``.

        Parameters
        ----------
        n : int
            Number of draws, ``>= 0``.
        size : int or array_like of int
            Numbers of trials, non-negative integers below 2^31 - 1; recycled as in R (length 1
            or dividing ``n``).
        prob : float or array_like
            Success probabilities; recycled as in R (length 1 or dividing ``n``).

        Returns
        -------
        numpy.ndarray
            float64 array of length ``n`` holding whole numbers (R returns an integer vector;
            float64 is used so that an NA can be NaN). A ``prob`` outside [0, 1] or non-finite
            gives NaN for that draw with an :class:`~glmmteach._warnings.RCompatWarning`
            (R: NA with a warning), consuming no uniforms.

        Notes
        -----
        ``size == 0``, ``prob == 0`` and ``prob == 1`` are returned without drawing. Otherwise,
        with ``p = min(prob, 1 - prob)``, ``q = 1 - p``, the draw ``x`` is for ``B(size, p)`` and
        ``size - x`` is returned when ``prob > 1/2``
        (Kachitvichyanukul & Schmeiser 1988).

        *Inversion (``size p < 30``)*: with ``s = p / q``, ``a = (size + 1) s`` and one uniform
        ``u``, walk the probabilities ``f(0) = q^size``, ``f(x) = f(x - 1) (a / x - s)``,
        subtracting them from ``u`` until ``u < f(x)``; if 110 steps do not suffice (only
        possible through rounding), start again with a new uniform.

        *BTPE (``size p >= 30``)*: the triangle / parallelogram / exponential-tails envelope of
        Kachitvichyanukul & Schmeiser: with mode ``M = floor(size p + p)``, half-width
        ``p1 = floor(2.195 sqrt(size p q) - 4.6 q) + 1/2``, ``x_M = M + 1/2``,
        ``x_L = x_M - p1``, ``x_R = x_M + p1``, ``c = 0.134 + 20.5 / (15.3 + M)``, tail rates
        ``lambda_L, lambda_R`` and region bounds ``p1 < p2 < p3 < p4``, each try uses two
        uniforms ``(u p4, v)``: accept in the triangle at once, otherwise propose from the
        parallelogram or an exponential tail and accept by the explicit ratio ``f(y)/f(M)`` when
        ``|y - M| <= 20`` or ``>= size p q / 2 - 1``, else by the squeeze bounds and, between
        them, Stirling's formula for the log ratio.
        """
        n = _as_count(n, "n")
        sz = _as_param(size, "size")
        pr = _as_param(prob, "prob")
        if not np.all(np.isfinite(sz)) or np.any(sz != np.floor(sz)) or np.any(sz < 0):
            raise ValueError("`size` must contain non-negative whole numbers.")
        if np.any(sz >= _INT_MAX):
            raise ValueError("`size` must be below 2147483647 (R then uses another algorithm).")
        _check_recycle(n, sz, "size")
        _check_recycle(n, pr, "prob")
        sz = _recycled(n, sz)
        pr = _recycled(n, pr)
        bad = ~((pr >= 0.0) & (pr <= 1.0))  # also catches NaN
        if np.any(bad):
            warnings.warn(
                f"rbinom: {int(np.count_nonzero(bad))} value(s) of `prob` outside [0, 1] or "
                "not finite; NaN returned for them (R returns NA).",
                RCompatWarning,
                stacklevel=2,
            )
        out: list[float] = []
        append = out.append
        sizes = sz.astype(np.int64).tolist()
        probs = pr.tolist()
        bads = bad.tolist()
        unif = self._unif
        setup_key = None
        setup = None
        for nn, pp, is_bad in zip(sizes, probs, bads, strict=True):
            if is_bad:
                append(math.nan)
            elif nn == 0 or pp == 0.0:
                append(0.0)
            elif pp == 1.0:
                append(nn)
            else:
                if (nn, pp) != setup_key:
                    setup_key = (nn, pp)
                    setup = _binom_setup(nn, pp)
                if setup[0]:
                    x = _binom_inversion(setup, unif)
                else:
                    x = _binom_btpe(nn, setup, unif)
                append(nn - x if pp > 0.5 else x)
        return np.array(out, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Binomial generators (Kachitvichyanukul & Schmeiser 1988), written from the paper's steps.


def _binom_setup(n: int, pp: float):
    """Constants for one (n, prob) pair; the first element tells inversion from BTPE."""
    p = min(pp, 1.0 - pp)
    q = 1.0 - p
    np_ = n * p
    s = p / q
    a = s * (n + 1)
    if np_ < 30.0:
        return (True, q**n, a, s)
    mode_real = np_ + p
    mode = int(mode_real)
    npq = np_ * q
    p1 = int(2.195 * math.sqrt(npq) - 4.6 * q) + 0.5
    xm = mode + 0.5
    xl = xm - p1
    xr = xm + p1
    c = 0.134 + 20.5 / (15.3 + mode)
    t = (mode_real - xl) / (mode_real - xl * p)
    lam_l = t * (1.0 + 0.5 * t)
    t = (xr - mode_real) / (xr * q)
    lam_r = t * (1.0 + 0.5 * t)
    p2 = p1 * (1.0 + c + c)
    p3 = p2 + c / lam_l
    p4 = p3 + c / lam_r
    return (False, p, q, a, s, npq, mode, mode_real, p1, xm, xl, xr, c, lam_l, lam_r, p2, p3, p4)


def _binom_inversion(setup, unif) -> int:
    """Inversion of the cdf for ``n p < 30`` (algorithm BINV), with a restart cap of 110."""
    _, qn, a, s = setup
    while True:
        x = 0
        f = qn
        u = unif()
        while True:
            if u < f:
                return x
            if x > 110:
                break
            u -= f
            x += 1
            f *= a / x - s


def _stirling_corr(z: float) -> float:
    """The Stirling-series correction term used in BTPE's final acceptance test."""
    z2 = z * z
    return (13860.0 - (462.0 - (132.0 - (99.0 - 140.0 / z2) / z2) / z2) / z2) / z / 166320.0


def _binom_btpe(n: int, setup, unif) -> int:
    """One BTPE draw for ``n p >= 30`` (steps 1-5 of Kachitvichyanukul & Schmeiser)."""
    (_, p, q, a, s, npq, mode, _, p1, xm, xl, xr, c, lam_l, lam_r, p2, p3, p4) = setup
    log = math.log
    while True:
        u = unif() * p4
        v = unif()
        # Step 1: triangular region, immediate acceptance.
        if u <= p1:
            return int(xm - p1 * v + u)
        # Step 2: parallelogram.
        if u <= p2:
            x = xl + (u - p1) / c
            v = v * c + 1.0 - abs(xm - x) / p1
            if v > 1.0 or v <= 0.0:
                continue
            y = int(x)
        elif u > p3:
            # Step 4: right exponential tail.
            y = int(xr - log(v) / lam_r)
            if y > n:
                continue
            v = v * (u - p3) * lam_r
        else:
            # Step 3: left exponential tail.
            y = int(xl + log(v) / lam_l)
            if y < 0:
                continue
            v = v * (u - p2) * lam_l
        # Step 5: acceptance test.
        k = abs(y - mode)
        if k <= 20 or k >= npq / 2 - 1:
            # 5.1: explicit ratio f(y) / f(M) by the recursion f(x) = f(x-1) (a/x - s).
            f = 1.0
            if mode < y:
                for i in range(mode + 1, y + 1):
                    f *= a / i - s
            elif mode > y:
                for i in range(y + 1, mode + 1):
                    f /= a / i - s
            if v <= f:
                return y
            continue
        # 5.2: squeeze on log(f(y)/f(M)) using its normal approximation.
        rho = (k / npq) * ((k * (k / 3.0 + 0.625) + 0.1666666666666) / npq + 0.5)
        t = -k * k / (2.0 * npq)
        alv = log(v)
        if alv < t - rho:
            return y
        if alv > t + rho:
            continue
        # 5.3: final test with Stirling's formula.
        x1 = y + 1.0
        f1 = mode + 1.0
        z = n + 1.0 - mode
        w = n - y + 1.0
        bound = (
            xm * log(f1 / x1)
            + (n - mode + 0.5) * log(z / w)
            + (y - mode) * log(w * p / (x1 * q))
            + _stirling_corr(f1)
            + _stirling_corr(z)
            + _stirling_corr(x1)
            + _stirling_corr(w)
        )
        if alv <= bound:
            return y


# ---------------------------------------------------------------------------------------------


def _qnorm_std(p: np.ndarray) -> np.ndarray:
    """Standard normal lower-tail quantiles of ``p`` strictly inside (0, 1) (AS 241)."""
    p = np.asarray(p, dtype=np.float64)
    q = p - 0.5
    out = np.empty_like(p)
    central = np.abs(q) <= 0.425
    if np.any(central):
        qc = q[central]
        r = 0.180625 - qc * qc
        out[central] = qc * _horner(_A, r) / _horner(_B, r)
    tail_idx = np.flatnonzero(~central)
    if tail_idx.size:
        pt = p[tail_idx].tolist()
        qt = q[tail_idx].tolist()
        vals = []
        for pi, qi in zip(pt, qt, strict=True):
            if qi < 0:
                vals.append(-_ppnd16_tail(pi))
            else:
                vals.append(_ppnd16_tail(0.5 - pi + 0.5))
        out[tail_idx] = vals
    return out


def qnorm(p, mean=0.0, sd=1.0, lower_tail=True):
    """Normal quantile function, as R's ``qnorm(p, mean, sd, lower.tail)`` (R 4.2).

    Parameters
    ----------
    p : float or array_like
        Probabilities. ``0`` and ``1`` give infinite quantiles; values outside [0, 1] give NaN
        with an :class:`~glmmteach._warnings.RCompatWarning` (R warns "NaNs produced"); NaN
        gives NaN.
    mean, sd : float or array_like
        Finite location and scale, ``sd >= 0`` (R returns NaN for ``sd < 0``; here it raises).
        ``sd == 0`` gives ``mean`` for ``0 < p < 1``. Broadcast against ``p`` with numpy rules.
    lower_tail : bool, default True
        If False, ``p`` is an upper-tail probability.

    Returns
    -------
    float or numpy.ndarray
        A float when every argument is a scalar, else a float64 array.

    Notes
    -----
    Wichura's algorithm AS 241 (PPND16), accurate to about 1e-16 relative. With
    ``q = p - 1/2``: if ``|q| <= 0.425``, ``z = q A(r) / B(r)`` with ``r = 0.180625 - q^2``;
    otherwise ``r = sqrt(-log(min(p, 1 - p)))`` and ``|z| = C(r - 1.6) / D(r - 1.6)`` for
    ``r <= 5``, ``E(r - 5) / F(r - 5)`` beyond, with the sign of ``q``. ``A, ..., F`` are degree-7
    polynomials with Wichura's published coefficients, evaluated by Horner's rule in the
    published order, so results agree with R bit for bit (R's own last step is
    ``mean + sd * z``). For ``lower_tail=False`` the lower-tail probability is formed as
    ``0.5 - p + 0.5`` and, in the upper tail, ``p`` itself is used as the tail area.
    scipy's ``ndtri`` uses a different algorithm and can differ in the last bit.

    References
    ----------
    Wichura, M. J. (1988). Algorithm AS 241: the percentage points of the normal distribution.
    *Applied Statistics* 37, 477-484.
    """
    if not isinstance(lower_tail, (bool, np.bool_)):
        raise ValueError(f"`lower_tail` must be True or False, got {lower_tail!r}.")
    scalar = all(np.ndim(v) == 0 for v in (p, mean, sd))
    try:
        pa = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`p` must be numeric, got {p!r}.") from None
    arrs = []
    for value, name in ((mean, "mean"), (sd, "sd")):
        if isinstance(value, (str, bytes)):
            raise ValueError(f"`{name}` must be numeric, got the string {value!r}.")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be numeric, got {value!r}.") from None
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite (no NaN or infinity).")
        arrs.append(arr)
    mu, sigma = arrs
    if np.any(sigma < 0):
        raise ValueError("`sd` must be >= 0 (R would return NaN).")
    try:
        pa, mu, sigma = np.broadcast_arrays(pa, mu, sigma)
    except ValueError:
        raise ValueError("`p`, `mean` and `sd` have shapes that cannot be broadcast.") from None
    pa = pa.astype(np.float64)  # own, writable copies
    out = np.full(pa.shape, np.nan)
    outside = (pa < 0.0) | (pa > 1.0)
    if np.any(outside):
        warnings.warn(
            "qnorm: `p` outside [0, 1]; NaN returned (R: 'NaNs produced').",
            RCompatWarning,
            stacklevel=2,
        )
    lo, hi = (-np.inf, np.inf) if lower_tail else (np.inf, -np.inf)
    out[pa == 0.0] = lo
    out[pa == 1.0] = hi
    inner = (pa > 0.0) & (pa < 1.0)
    if np.any(inner):
        pi = pa[inner]
        if lower_tail:
            z = _qnorm_std(pi)
        else:
            z = _qnorm_upper(pi)
        si = sigma[inner]
        out[inner] = np.where(si == 0.0, mu[inner], mu[inner] + si * z)
    if scalar:
        return float(out.reshape(()))
    return out


def _qnorm_upper(p: np.ndarray) -> np.ndarray:
    """Standard normal quantiles for upper-tail areas ``p`` strictly inside (0, 1)."""
    p_low = 0.5 - p + 0.5
    q = p_low - 0.5
    out = np.empty_like(p)
    central = np.abs(q) <= 0.425
    if np.any(central):
        qc = q[central]
        r = 0.180625 - qc * qc
        out[central] = qc * _horner(_A, r) / _horner(_B, r)
    tail_idx = np.flatnonzero(~central)
    if tail_idx.size:
        vals = []
        for pi, pli, qi in zip(
            p[tail_idx].tolist(), p_low[tail_idx].tolist(), q[tail_idx].tolist(), strict=True
        ):
            # The smaller tail area: the lower one p_low when q < 0, else p itself.
            vals.append(-_ppnd16_tail(pli) if qi < 0 else _ppnd16_tail(pi))
        out[tail_idx] = vals
    return out
