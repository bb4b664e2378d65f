"""The summary of a fit, printed in lme4's layout (``print(m.summary())``) or as HTML tables.

:class:`Summary` reads only the fitted model's public attributes. Imports ``glmmteach._util``
(R-style number formatting) and :mod:`glmmteach.model.formula`; never ``results`` (which
imports this module).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach._util import rformat as rf

__all__ = ["Summary", "deparse_formula"]


def deparse_formula(text: str) -> str:
    """The formula as R prints it (``y ~ trt * sex + (1 | id)``), without lme4's expansions."""
    from glmmteach.model.formula import deparse, parse_expr

    lhs, _, rhs = text.partition("~")
    try:
        right = deparse(parse_expr(rhs))
        left = deparse(parse_expr(lhs)) if lhs.strip() else ""
    except ValueError:
        return text
    return f"{left} ~ {right}" if left else f"~{right}"


class Summary:
    """The summary of a fit, printed in lme4's layout (text) or as HTML tables."""

    def __init__(self, m) -> None:
        self.model = m
        fe = m.fixef
        se = m.bse
        z = fe / se
        p = 2.0 * stats.norm.sf(np.abs(z))
        self.coefficients = pd.DataFrame(
            {"Estimate": fe, "Std. Error": se, "z value": z, "Pr(>|z|)": p})
        self.varcorr = m.varcorr
        res = np.asarray(m.residuals("pearson"), dtype=float)
        res = res[~np.isnan(res)]  # R's quantile(..., na.rm = TRUE); all NaN prints NA
        self.scaled_residuals = (np.quantile(res, [0, 0.25, 0.5, 0.75, 1.0]) if res.size
                                 else np.full(5, np.nan))

    @property
    def method(self) -> str:
        m = self.model
        if m.nAGQ > 1:
            return f"Adaptive Gauss-Hermite Quadrature, nAGQ = {m.nAGQ}"
        if m.nAGQ == 0:
            return "Adaptive Gauss-Hermite Quadrature, nAGQ = 0"  # lme4's wording
        return "Laplace Approximation"

    def _fit_stats(self) -> tuple[list[str], list[str]]:
        m = self.model
        # lme4 rounds these four to one decimal
        vals = [f"{v:.1f}" for v in (m.aic, m.bic, m.loglik, m.deviance)]
        return ["AIC", "BIC", "logLik", "deviance", "df.resid"], vals + [str(m.df_resid)]

    def _random_rows(self) -> tuple[list[str], list[list[str]]]:
        m = self.model
        vc = m.varcorr
        grps = rf.make_unique([t.group for t in m.design.terms])
        has_cor = any(len(t.cnms) > 1 for t in m.design.terms)
        header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if has_cor else [])
        rows = []
        # lme4 formats each column as a whole (common decimals), 4 significant digits
        variances = vc[vc.var2.isna()]
        var_txt = iter(rf.format_r(list(variances.vcov), 4))
        sd_txt = iter(rf.format_r(list(variances.sdcor), 4))
        for t, g in zip(m.design.terms, grps):
            sub = vc[(vc.grp == g)]
            cor = sub[sub.var2.notna()]
            for j, name in enumerate(t.cnms):
                r = [g if j == 0 else "", name, next(var_txt), next(sd_txt)]
                if has_cor:
                    cors = []
                    for c in range(j):
                        val = cor[(cor.var1 == t.cnms[c]) & (cor.var2 == name)].sdcor
                        cors.append(f"{val.iloc[0]:.2f}" if len(val) else "")
                    r.append(" ".join(cors))
                rows.append(r)
        return header, rows

    def __str__(self) -> str:
        m = self.model
        lines = [
            f"Generalized linear mixed model fit by maximum likelihood ({self.method})"
            " [glmmteach]",
            f" Family: {m.family.name}  ( {m.family.link} )",
            f"Formula: {deparse_formula(m.formula)}",
            f"   Data: {m.model.data_name}",
            "",
        ]
        names, vals = self._fit_stats()
        w = max(len(s) for s in names + vals)
        lines.append(" ".join(s.rjust(w) for s in names) + " ")
        lines.append(" ".join(s.rjust(w) for s in vals) + " ")
        lines += ["", "Scaled residuals: "]
        q = rf.format_common(rf.zapsmall(self.scaled_residuals, 5), 4)
        qn = ["Min", "1Q", "Median", "3Q", "Max"]
        wq = max(len(s) for s in q + qn)
        lines.append(" ".join(s.rjust(wq) for s in qn) + " ")
        lines.append(" ".join(s.rjust(wq) for s in q) + " ")
        lines += ["", "Random effects:"]
        header, rows = self._random_rows()
        widths = [max(len(header[j]), *(len(r[j]) for r in rows)) for j in range(len(header))]
        lines.append(" " + " ".join(h.ljust(w) for h, w in zip(header, widths)))
        for r in rows:
            lines.append(" " + " ".join(c.ljust(w) for c, w in zip(r, widths)))
        grp_txt = "; ".join(f"{g}, {k}" for g, k in m.ngrps.items())
        lines.append(f"Number of obs: {m.nobs}, groups:  {grp_txt}")
        lines += ["", "Fixed effects:"]
        co = self.coefficients
        est_se = rf.format_common(list(co["Estimate"]) + list(co["Std. Error"]), 4)
        k = len(co)
        zs = [f"{v:.3f}" for v in co["z value"]]
        ps = rf.format_pvalues(co["Pr(>|z|)"], 3)
        stars = [rf.signif_stars(p) for p in co["Pr(>|z|)"]]
        rows = [[est_se[i], est_se[k + i], zs[i], ps[i], stars[i]] for i in range(k)]
        header = ["Estimate", "Std. Error", "z value", "Pr(>|z|)", ""]
        table = rf.text_table(rows, header, list(co.index), align=["r", "r", "r", "r", "l"])
        lines += table.split("\n")
        if any(stars):
            lines += ["---", rf.SIGNIF_LEGEND]
        for msg in m.optimizer_messages:
            lines.append(f"Note: {msg}")
        if m.is_singular:
            lines.append("boundary (singular) fit: see GlmerResult.is_singular")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        m = self.model
        names, vals = self._fit_stats()
        fit = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        fitv = "".join(f"<td>{html.escape(v)}</td>" for v in vals)
        header, rows = self._random_rows()
        re_head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        re_rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                          for r in rows)
        co = self.coefficients
        est_se = rf.format_common(list(co["Estimate"]) + list(co["Std. Error"]), 4)
        k = len(co)
        ps = rf.format_pvalues(co["Pr(>|z|)"], 3)
        fe_rows = "".join(
            f"<tr><th>{html.escape(name)}</th><td>{est_se[i]}</td><td>{est_se[k + i]}</td>"
            f"<td>{co['z value'].iloc[i]:.3f}</td><td>{html.escape(ps[i])}</td>"
            f"<td>{rf.signif_stars(co['Pr(>|z|)'].iloc[i])}</td></tr>"
            for i, name in enumerate(co.index))
        grp_txt = "; ".join(f"{g}: {k}" for g, k in m.ngrps.items())
        return (
            "<div class='glmmteach-summary'>"
            f"<p><b>Binomial GLMM</b> ({html.escape(m.family.link)} link), maximum likelihood "
            f"({html.escape(self.method)})<br><code>{html.escape(m.formula)}</code></p>"
            f"<table><tr>{fit}</tr><tr>{fitv}</tr></table>"
            f"<p><b>Random effects</b> ({m.nobs} observations; groups {html.escape(grp_txt)})"
            f"</p><table><tr>{re_head}</tr>{re_rows}</table>"
            "<p><b>Fixed effects</b> (log-odds scale for the logit link)</p>"
            "<table><tr><th></th><th>Estimate</th><th>Std. Error</th><th>z value</th>"
            f"<th>Pr(&gt;|z|)</th><th></th></tr>{fe_rows}</table></div>")
