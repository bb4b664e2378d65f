"""The model equation (``glmmteach.equation``).

Reference: the article's equation, copied from ``../shared/article/binomial-glmm-article.txt``
(its en dashes are minus signs; it writes ``u_j`` where we brace every subscript). lme4's
estimates rounded to 2 decimals are the article's numbers.
"""

from __future__ import annotations

import re
import warnings

import pytest
from crosscheck_models import CASES_BY_NAME

import glmmteach
from glmmteach.inference.equation import ModelEquation, model_equation

ARTICLE_EQUATION = (
    r"\text{Prob}(y_{j} = 1) = \text{logit}^{-1}(-0.31 + 2.19 \times \text{Treat} – 0.63 "
    r"\times \text{Male} – 1.22 \times \text{Treat} \times \text{Male} + u_j)"
)
ARTICLE_DISTRIBUTION = r"u_j \sim \text{N}(0, 0.20)"


def _normalize(tex: str) -> str:
    tex = tex.replace("–", "-")
    return re.sub(r"_\{(\w)\}", r"_\1", tex)


@pytest.fixture(scope="module")
def article():
    return glmmteach.glmer("y ~ trt * sex + (1|id)", glmmteach.datasets.vegetables())


def _case(name):
    c = CASES_BY_NAME[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glmmteach.warnings.SingularFitWarning)
        return glmmteach.glmer(c.formula, c.make_data(), family=glmmteach.binomial(c.link))


def test_article_equation(article):
    eq = model_equation(article)
    assert isinstance(eq, ModelEquation)
    assert [_normalize(x) for x in eq.lines] == [_normalize(ARTICLE_EQUATION),
                                                 _normalize(ARTICLE_DISTRIBUTION)]
    assert str(eq) == eq.latex == r", \quad ".join(eq.lines)
    assert eq.text == ("Prob(y_j = 1) = logit^-1(−0.31 + 2.19 × Treat − 0.63 × Male − 1.22 × "
                       "Treat × Male + u_j), u_j ~ N(0, 0.20)")


def test_article_equation_renders(article):
    eq = model_equation(article)
    latex = eq._repr_latex_()
    assert latex.startswith("$$") and latex.endswith("$$") and eq.lines[0] in latex
    md = eq._repr_markdown_()
    assert "standard deviation" in md and "$j$ indexes the levels of id" in md


def test_digits_and_labels(article):
    eq = model_equation(article, digits=3, labels={"trttreat": "Treated", "male": "Boy"})
    assert f"{article.fixef['trttreat']:.3f} × Treated" in eq.text
    assert "− 0.634 × Boy" in eq.text
    assert "× Treated × Boy + u_j" in eq.text  # labels apply inside interactions too
    sd = float(article.varcorr.sdcor.iloc[0])
    assert f"N(0, {sd:.3f})" in eq.text
    with pytest.raises(ValueError, match="digits"):
        model_equation(article, digits=-1)
    with pytest.raises(TypeError):
        model_equation("not a model")


def test_probit_and_crossed():
    eq = model_equation(_case("probit_link"))
    assert eq.lines[0].startswith(r"\text{Prob}(y_{j} = 1) = \Phi(")
    eq = model_equation(_case("crossed"))
    assert r"\text{Prob}(y_{jk} = 1)" in eq.lines[0]
    assert eq.lines[0].endswith("+ u_{j} + v_{k})")
    assert len(eq.lines) == 3


def test_correlated_slopes():
    m = _case("correlated_slopes")
    eq = model_equation(m)
    vc = m.varcorr
    s0, s1, rho = vc.sdcor.to_numpy()
    assert eq.lines[0].endswith(r"+ u_{0j} + u_{1j} \times \text{x})")
    assert eq.lines[1:] == [
        rf"u_{{0j}} \sim \text{{N}}(0, {s0:.2f})",
        rf"u_{{1j}} \sim \text{{N}}(0, {s1:.2f})",
        rf"\text{{cor}}(u_{{0j}}, u_{{1j}}) = {rho:.2f}",
    ]


def test_latex_special_characters_escaped():
    m = _case("poly_factor_interaction")
    eq = model_equation(m)
    assert r"\text{I(x\^{}2)}" in eq.lines[0]
    assert r"\text{Medium} \times \text{z}" in eq.lines[0]


def test_undefined_correlation_is_na():
    """With an SD estimated as 0 the correlation is undefined: the equation says NA."""
    import numpy as np
    import pandas as pd
    from scipy.special import expit

    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(15), 8)
    x = rng.normal(size=len(g))
    b = rng.normal(0.0, 0.8, 15)
    d = pd.DataFrame({"y": rng.binomial(1, expit(0.2 + 0.5 * x + b[g])), "x": x, "g": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glmmteach.warnings.GlmmteachWarning)
        m = glmmteach.glmer("y ~ x + (1 + x | g)", d)
    assert m.opt.theta[0] == 0.0  # the intercept SD is 0 (the whole term is, here)
    eq = model_equation(m)
    assert eq.lines[-1] == r"\text{cor}(u_{0j}, u_{1j}) = NA"
