"""The fitted model written as an equation, in the article's notation.

``model_equation(m)`` for the article's model gives

.. math::
    \\text{Prob}(y_{j} = 1) = \\text{logit}^{-1}(-0.31 + 2.19 \\times \\text{Treat}
    - 0.63 \\times \\text{Male} - 1.22 \\times \\text{Treat} \\times \\text{Male} + u_{j}),
    \\quad u_{j} \\sim \\text{N}(0, 0.20)

shown as rendered mathematics in Jupyter (``_repr_latex_``), as Markdown with a sentence
saying what the symbols mean (``_repr_markdown_``), and as a LaTeX string (``str``).

Imports ``glmmteach.model``, ``glmmteach._util`` and other ``inference`` modules; never
``diagnostics`` or ``course``.
"""

from __future__ import annotations

import re

from glmmteach.model.results import check_fitted_model

__all__ = ["ModelEquation", "model_equation"]

_LINKINV = {"logit": r"\text{logit}^{-1}", "probit": r"\Phi", "cloglog": r"\text{cloglog}^{-1}"}
_LINKINV_TEXT = {"logit": "logit^-1", "probit": "Phi", "cloglog": "cloglog^-1"}
_INDEX = "jklmnpqrst"
_EFFECT = "uvwabcdefg"
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "^": r"\^{}", "%": r"\%", "&": r"\&",
                  "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}"}


def _tex_text(s: str) -> str:
    return r"\text{" + "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s) + "}"


def _level_label(level) -> str:
    s = str(level)
    return s[:1].upper() + s[1:] if s[:1].isalpha() else s


def _piece_label(piece: str, factor_levels: dict, labels: dict) -> str:
    """Readable name of one factor of a column name: ``trttreat`` -> ``Treat``."""
    if piece in labels:
        return labels[piece]
    for var in sorted(factor_levels, key=len, reverse=True):
        if piece.startswith(var):
            rest = piece[len(var):]
            for lev in factor_levels[var]:
                if rest == str(lev):
                    return labels.get(str(lev), _level_label(lev))
    return piece


class ModelEquation:
    """A fitted model as an equation (see :func:`model_equation`).

    Attributes
    ----------
    lines : list of str
        The equations in LaTeX: the model for the probability, then one distribution line per
        random effect.
    latex : str
        All lines joined by ``,\\quad`` (what ``str`` returns).
    text : str
        A plain-text (Unicode) version.
    where : str
        A sentence saying what the indices and symbols are.
    """

    def __init__(self, lines: list[str], text_lines: list[str], where: str) -> None:
        self.lines = lines
        self.text = ", ".join(text_lines)
        self.where = where

    @property
    def latex(self) -> str:
        return r", \quad ".join(self.lines)

    def __str__(self) -> str:
        return self.latex

    def __repr__(self) -> str:
        return f"ModelEquation({self.text!r})"

    def _repr_latex_(self) -> str:
        return "$$\\begin{aligned}" + r" \\ ".join(f"&{ln}" for ln in self.lines) + \
            "\\end{aligned}$$"

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"$${ln}$$" for ln in self.lines) + "\n\n" + self.where


def model_equation(m, digits: int = 2, labels: dict | None = None) -> ModelEquation:
    """Write a fitted model as an equation in the article's notation.

    Parameters
    ----------
    m : GlmerResult
        Any fitted glmer model (any link, several random-effect terms).
    digits : int
        Decimal places of the coefficients and standard deviations.
    labels : dict, optional
        Display names replacing column names or factor levels, e.g.
        ``{"trttreat": "Treated"}`` or ``{"male": "Boy"}``. By default a factor column such as
        ``trttreat`` shows its level with a capital (``Treat``), as in the article; numeric
        columns show their name.

    Returns
    -------
    ModelEquation
        Renders in Jupyter; ``str(eq)`` is the LaTeX.

    Notes
    -----
    The model is ``Prob(y = 1) = g^{-1}(x' beta + z' b)``. Each grouping factor gets an index
    letter (``j`` for the first, then ``k``, ``l``, ...) and a random-effect letter (``u``,
    then ``v``, ...); a term with several columns numbers them from 0
    (``u_{0j} + u_{1j} x``). As in the article, ``N(0, s)`` gives the *standard deviation*
    ``s`` of the random effect (not its variance); correlations of correlated terms are
    stated next to it.
    """
    check_fitted_model(m, "m")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 10:
        raise ValueError(f"digits must be a whole number from 0 to 10, not {digits!r}")
    labels = dict(labels or {})
    d = m.design
    fl = {k: list(v) for k, v in d.factor_levels.items()}

    def num(v: float) -> str:
        return f"{abs(v):.{digits}f}"

    # ---------------------------------------------------------------- grouping letters
    groups: list[str] = []
    for t in d.terms:
        if t.group not in groups:
            groups.append(t.group)
    if len(groups) > len(_INDEX):
        raise ValueError(f"model_equation writes at most {len(_INDEX)} grouping factors")
    idx = {g: _INDEX[i] for i, g in enumerate(groups)}
    eff = {g: _EFFECT[i] for i, g in enumerate(groups)}
    ncols = {g: sum(t.X.shape[1] for t in d.terms if t.group == g) for g in groups}
    sub_y = "".join(idx[g] for g in groups)

    # ---------------------------------------------------------------- fixed part
    tex_terms: list[tuple[float | None, str, str]] = []  # (coef, latex label, text label)
    for name, b in zip(d.xnames, m.beta):
        if name == "(Intercept)":
            tex_terms.append((b, "", ""))
            continue
        if name in labels:
            pieces_tex = [_tex_text(labels[name])]
            pieces_txt = [labels[name]]
        else:
            parts = [_piece_label(p, fl, labels) for p in name.split(":")]
            pieces_tex = [_tex_text(p) for p in parts]
            pieces_txt = parts
        tex_terms.append((b, r" \times ".join(pieces_tex), " × ".join(pieces_txt)))

    # ---------------------------------------------------------------- random part
    col_counter = {g: 0 for g in groups}
    re_tex, re_txt, dist_tex, dist_txt = [], [], [], []
    for t, (sds, cor) in zip(d.terms, m.model.re.sdcor(m.theta)):
        g = t.group
        syms_tex, syms_txt = [], []
        for j, cname in enumerate(t.cnms):
            c = col_counter[g]
            col_counter[g] += 1
            sub = f"{c}{idx[g]}" if ncols[g] > 1 else idx[g]
            sym_tex = f"{eff[g]}_{{{sub}}}"
            sym_txt = f"{eff[g]}_{sub}"
            syms_tex.append(sym_tex)
            syms_txt.append(sym_txt)
            if cname == "(Intercept)":
                re_tex.append(sym_tex)
                re_txt.append(sym_txt)
            else:
                lab = _piece_label(cname, fl, labels) if ":" not in cname else " × ".join(
                    _piece_label(p, fl, labels) for p in cname.split(":"))
                re_tex.append(f"{sym_tex} \\times {_tex_text(lab)}")
                re_txt.append(f"{sym_txt} × {lab}")
            dist_tex.append(f"{sym_tex} \\sim \\text{{N}}(0, {num(sds[j])})")
            dist_txt.append(f"{sym_txt} ~ N(0, {num(sds[j])})")
        for a in range(len(t.cnms)):
            for b_ in range(a + 1, len(t.cnms)):
                rho = float(cor[a, b_])  # NaN when an SD is 0
                rs = "NA" if rho != rho else f"{'-' if rho < 0 else ''}{num(rho)}"
                dist_tex.append(f"\\text{{cor}}({syms_tex[a]}, {syms_tex[b_]}) = {rs}")
                dist_txt.append(f"cor({syms_txt[a]}, {syms_txt[b_]}) = {rs}")

    # ---------------------------------------------------------------- assemble
    def join(terms, tex: bool) -> str:
        out = ""
        for coef, lab_tex, lab_txt in terms:
            lab = lab_tex if tex else lab_txt
            times = r" \times " if tex else " × "
            body = num(coef) + (times + lab if lab else "")
            minus = "-" if tex else "−"
            if not out:
                out = (minus if coef < 0 else "") + body
            else:
                out += f" {minus if coef < 0 else '+'} {body}"
        return out

    lin_tex = join(tex_terms, True)
    lin_txt = join(tex_terms, False)
    extra_tex = ([r"\text{offset}"] if any(d.offset) else []) + re_tex
    extra_txt = (["offset"] if any(d.offset) else []) + re_txt
    for e_tex, e_txt in zip(extra_tex, extra_txt):
        lin_tex = f"{lin_tex} + {e_tex}" if lin_tex else e_tex
        lin_txt = f"{lin_txt} + {e_txt}" if lin_txt else e_txt
    link = m.family.link
    first_tex = (f"\\text{{Prob}}(y_{{{sub_y}}} = 1) = {_LINKINV[link]}({lin_tex})")
    first_txt = f"Prob(y_{sub_y} = 1) = {_LINKINV_TEXT[link]}({lin_txt})"
    where_parts = [f"${idx[g]}$ indexes the levels of {g}" for g in groups]
    where = ("where " + "; ".join(where_parts) + ". " +
             r"$\text{N}(0, s)$ is a normal distribution with mean 0 and standard deviation "
             "$s$" + (", and $\\Phi$ the standard normal distribution function"
                      if link == "probit" else "") + ".")
    where = re.sub(r"\s+", " ", where)
    return ModelEquation([first_tex] + dist_tex, [first_txt] + dist_txt, where)
