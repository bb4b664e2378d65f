"""Number formatting that mirrors how R prints, so our summaries read like lme4's.

Only documented behaviour of R's ``format``/``format.pval``/``printCoefmat`` is reproduced:
a vector is shown with a common number of decimals, enough for its least precise element to
have ``digits`` significant digits.

Package-private; imports nothing from glmmteach except ``glmmteach.warnings`` and other
``_util`` modules.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["format_common", "format_r", "format_pvalues", "signif_stars",
           "text_table", "zapsmall", "make_unique", "format_r_number"]


def _sig_needed(x: float, digits: int) -> int:
    """Significant digits (<= digits) needed to show x rounded to ``digits`` significant."""
    if x == 0 or not math.isfinite(x):
        return 1
    s = f"{abs(x):.{digits - 1}e}"
    mant = s.split("e")[0].replace(".", "").rstrip("0")
    return max(1, len(mant))


def _decimals(x: float, digits: int) -> int:
    if x == 0 or not math.isfinite(x):
        return 0
    sig = _sig_needed(x, digits)
    e = math.floor(math.log10(abs(float(f"{abs(x):.{digits - 1}e}"))))
    return max(0, sig - 1 - e)


def format_common(values, digits: int = 4) -> list[str]:
    """Format numbers with a common number of decimals, like R's ``format(x, digits=)``."""
    vals = [float(v) for v in values]
    finite = [v for v in vals if math.isfinite(v)]
    dec = max((_decimals(v, digits) for v in finite), default=0)
    dec = min(dec, 15)
    return [f"{v:.{dec}f}" if math.isfinite(v) else ("NA" if math.isnan(v) else str(v))
            for v in vals]


def _format_sci(values, digits: int) -> list[str]:
    sig = max((_sig_needed(v, digits) for v in values), default=1)
    out = []
    for v in values:
        m, e = f"{v:.{sig - 1}e}".split("e")
        out.append(f"{m}e{int(e):+03d}")
    return out


def format_r(values, digits: int = 4) -> list[str]:
    """R's ``format(x, digits=)``: fixed notation unless scientific is narrower."""
    fixed = format_common(values, digits)
    sci = _format_sci(values, digits)
    if max(map(len, fixed)) <= max(map(len, sci)):
        return fixed
    return sci


def format_pvalues(pv, digits: int = 3) -> list[str]:
    """R's ``format.pval`` with ``eps = .Machine$double.eps``, as printCoefmat uses it."""
    eps = np.finfo(float).eps
    pv = [float(p) for p in pv]
    out = [""] * len(pv)
    small = [p < eps for p in pv]
    rest = [(i, p) for i, p in enumerate(pv) if not small[i] and math.isfinite(p)]
    fixed = [(i, p) for i, p in rest if p == 0 or math.floor(math.log10(p)) >= -3]
    sci = [(i, p) for i, p in rest if not (p == 0 or math.floor(math.log10(p)) >= -3)]
    for group in (fixed, sci):
        if group:
            for (i, _), s in zip(group, format_r([p for _, p in group], digits)):
                out[i] = s
    for i, p in enumerate(pv):
        if not math.isfinite(p):
            out[i] = "NA"
    if any(small):
        d = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i, _ in rest)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if (d == 1 and nc <= 6) else " "
        else:
            sep = "" if d == 1 else " "
        e = f"{eps:.{d - 1}e}".split("e")
        eps_txt = f"{e[0]}e{int(e[1]):+03d}"
        for i, s in enumerate(small):
            if s:
                out[i] = "<" + sep + eps_txt
    return out


def signif_stars(p: float) -> str:
    """R's significance stars."""
    if not math.isfinite(p):
        return ""
    for cut, star in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return star
    return ""


SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def text_table(rows: list[list[str]], header: list[str], row_names: list[str] | None = None,
               align: list[str] | None = None) -> str:
    """A fixed-width table like R's print of a character matrix (right-aligned by default)."""
    ncol = len(header)
    align = align or ["r"] * ncol
    widths = [max(len(header[j]), *(len(r[j]) for r in rows)) if rows else len(header[j])
              for j in range(ncol)]
    rn = row_names or [""] * len(rows)
    rnw = max((len(s) for s in rn), default=0)

    def fmt(cells):
        parts = []
        for j, c in enumerate(cells):
            parts.append(c.ljust(widths[j]) if align[j] == "l" else c.rjust(widths[j]))
        return " ".join(parts)

    lines = [" " * rnw + " " + fmt(header)]
    for name, r in zip(rn, rows):
        lines.append(name.ljust(rnw) + " " + fmt(r))
    return "\n".join(lines)


def zapsmall(x: np.ndarray, digits: int) -> np.ndarray:
    """R's ``zapsmall``: round so that values tiny next to the largest become 0."""
    x = np.asarray(x, dtype=float)
    finite = np.abs(x[np.isfinite(x)])
    # NaN and Inf are left as they are (R's zapsmall ignores them: na.rm = TRUE)
    mx = float(np.max(finite)) if finite.size else 0.0
    if mx <= 0:
        return np.round(x, digits)
    return np.round(x, max(0, digits - int(math.ceil(math.log10(mx)))))


def make_unique(names: list[str]) -> list[str]:
    """R's ``make.unique``: the second "id" becomes "id.1", and so on."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def format_r_number(value: float) -> str:
    """Print a double as R does (15 significant digits; scientific when it is shorter).

    Parameters
    ----------
    value : float
        The number.

    Returns
    -------
    str
        ``2`` for 2.0, ``0.5``, ``1e+05`` for 100000, ``1e-04`` for 0.0001, ``123456``.
    """
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    target = float(f"{v:.14e}")
    digits = 15
    for d in range(1, 16):
        if float(f"{v:.{d - 1}e}") == target:
            digits = d
            break
    sci = f"{v:.{digits - 1}e}"
    exponent = int(sci.split("e")[1])
    decimals = max(0, digits - 1 - exponent)
    fixed = f"{v:.{decimals}f}"
    return fixed if len(fixed) <= len(sci) else sci
