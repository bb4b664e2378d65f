"""Factors as R makes them: level order in R's default (ICU) collation, level labels,
unused levels dropped, and R's orthogonal polynomial contrasts for ordered factors.

Used by :mod:`glmmteach.model.design`. Imports only ``glmmteach._util.rformat``
(R's printing of numeric levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from glmmteach._util.rformat import format_r_number

__all__ = ["r_level_order", "collation_key", "level_labels", "drop_unused", "factorize",
           "contr_poly", "poly_suffixes"]

# ---------------------------------------------------------------------------------------------
# level order (R's default collation for strings)
# ---------------------------------------------------------------------------------------------

# ICU root collation of printable ASCII, as R sorts with it (checked with R 4.2.2: sort() of the
# characters 32..126): space and punctuation, symbols, digits, then letters with a < A < b.
_R_ASCII_ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"
_PRIMARY: dict[int, str] = {ord(c): chr(2 + i) for i, c in enumerate(_R_ASCII_ORDER)}
for _j, _c in enumerate("abcdefghijklmnopqrstuvwxyz"):
    _PRIMARY[ord(_c)] = _PRIMARY[ord(_c.upper())] = chr(2 + len(_R_ASCII_ORDER) + _j)


_CODEPOINT_SAFE_LOWER = set(" .0123456789abcdefghijklmnopqrstuvwxyz")
_CODEPOINT_SAFE_UPPER = set(" .0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def collation_key(s: str) -> str:
    # primary strength (case-insensitive), then lower case before upper case
    return s.translate(_PRIMARY) + "\x01" + s.swapcase()


def r_level_order(values: Sequence[Any]) -> np.ndarray:
    """The permutation that sorts factor levels as R's ``factor()`` does.

    Parameters
    ----------
    values : sequence
        Distinct values: strings (R's default collation, see the module notes), numbers
        (numeric order) or booleans (False first).

    Returns
    -------
    ndarray of int
        Indices into ``values`` in sorted order.

    Examples
    --------
    >>> levels = ["b", "B", "a", "_x", "10", "9"]
    >>> [levels[i] for i in r_level_order(levels)]
    ['_x', '10', '9', 'a', 'b', 'B']
    """
    vals = list(values)
    if not vals:
        return np.zeros(0, dtype=np.int64)
    if all(isinstance(v, (bool, np.bool_)) for v in vals):
        return np.argsort(np.asarray(vals, dtype=int), kind="stable")
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
           for v in vals):
        return np.argsort(np.asarray(vals, dtype=float), kind="stable")
    strings = [v if isinstance(v, str) else str(v) for v in vals]
    chars = set("".join(strings))
    if chars <= _CODEPOINT_SAFE_LOWER or chars <= _CODEPOINT_SAFE_UPPER:
        # code-point order is R's order for these characters: skip the collation keys
        return np.argsort(np.array(strings, dtype=str), kind="stable")
    keys = [collation_key(s) for s in strings]
    return np.argsort(np.array(keys, dtype=object), kind="stable")


def level_labels(levels: Sequence[Any]) -> tuple[str, ...]:
    """R's printed level names: TRUE/FALSE, numbers as R prints doubles, strings as is."""
    out = []
    for v in levels:
        if isinstance(v, (bool, np.bool_)):
            out.append("TRUE" if v else "FALSE")
        elif isinstance(v, (int, np.integer)):
            out.append(str(int(v)))
        elif isinstance(v, (float, np.floating)):
            out.append(format_r_number(float(v)))
        else:
            out.append(str(v))
    return tuple(out)


def drop_unused(codes: np.ndarray, levels: pd.Index) -> tuple[np.ndarray, pd.Index]:
    used = np.bincount(codes[codes >= 0], minlength=len(levels)) > 0
    if used.all():
        return codes, levels
    remap = np.cumsum(used) - 1
    return np.where(codes >= 0, remap[codes], -1), levels[used]


def factorize(value: Any) -> tuple[np.ndarray, pd.Index, bool]:
    """Codes 0..L-1 (int64), levels in R's order, and whether the factor is ordered."""
    if isinstance(value, pd.Series) and isinstance(value.dtype, pd.CategoricalDtype):
        codes = value.cat.codes.to_numpy().astype(np.int64)
        codes, levels = drop_unused(codes, pd.Index(value.cat.categories))
        return codes, levels, bool(value.cat.ordered)
    if isinstance(value, np.ndarray) and value.dtype == bool:
        codes, levels = drop_unused(value.astype(np.int64), pd.Index([False, True], dtype=bool))
        return codes, levels, False
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        codes, uniques = pd.factorize(value, sort=True)
        return codes.astype(np.int64), pd.Index(uniques), False
    codes, uniques = pd.factorize(value, sort=False)
    uniq = np.asarray(uniques, dtype=object)
    try:
        order = r_level_order(uniq)
    except TypeError as err:  # pragma: no cover - unorderable mixtures
        raise ValueError(f"cannot sort the values {list(uniq[:5])} as factor levels") from err
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.asarray(codes, dtype=np.int64)
    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return codes, pd.Index(uniq[order]), False


def contr_poly(k: int) -> np.ndarray:
    """Orthonormal polynomial contrasts on 1..k (R's ``contr.poly``), k x (k-1)."""
    x = np.arange(1, k + 1, dtype=float)
    x -= x.mean()
    q, r = np.linalg.qr(np.vander(x, k, increasing=True))
    q = q * np.sign(np.diag(r))
    return q[:, 1:]


def poly_suffixes(k: int) -> list[str]:
    base = [".L", ".Q", ".C"]
    return [base[i] if i < 3 else f"^{i + 1}" for i in range(k - 1)]


