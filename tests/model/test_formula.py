"""Tests of glmmteach.formula: tokenizer, parser, R-style printing, Wilkinson expansion and
lme4's expansions of random-effect terms.

Expected values come from R 4.2.2 / lme4 1.1-31, produced with the snippets quoted above each
table (``attr(terms(f), "term.labels")``, ``attr(terms(f), "intercept")``, ``deparse()``,
``lme4::findbars()``).
"""

from __future__ import annotations

import pytest

from glmmteach.model.formula import (
    ParsedFormula,
    RandomSpec,
    deparse,
    format_r_number,
    group_factors,
    parse_expr,
    parse_formula,
    parse_rhs,
)

# R: for (f in fs) { tt <- terms(as.formula(f)); attr(tt, "term.labels"); attr(tt, "intercept") }
R_TERMS = {
    "y ~ trt*sex": (["trt", "sex", "trt:sex"], 1),
    "y ~ trt + trt:x": (["trt", "trt:x"], 1),
    "y ~ 0 + trt": (["trt"], 0),
    "y ~ (trt+sex+x)^2": (["trt", "sex", "x", "trt:sex", "trt:x", "sex:x"], 1),
    "y ~ (trt+sex+x)^3": (
        ["trt", "sex", "x", "trt:sex", "trt:x", "sex:x", "trt:sex:x"], 1
    ),
    "y ~ trt*sex - trt:sex": (["trt", "sex"], 1),
    "y ~ x + offset(z)": (["x"], 1),
    "y ~ trt*x - 1": (["trt", "x", "trt:x"], 0),
    "y ~ trt + x:trt:sex": (["trt", "trt:x:sex"], 1),
    "y ~ sex:trt + trt": (["trt", "sex:trt"], 1),
    "y ~ b + a:b": (["b", "b:a"], 1),
    "y ~ trt/x": (["trt", "trt:x"], 1),
    "y ~ trt/(x+z)": (["trt", "trt:x", "trt:z"], 1),
    "y ~ (trt+sex)/x": (["trt", "sex", "trt:sex:x"], 1),
    "y ~ x %in% trt": (["x:trt"], 1),
    "y ~ x:z + trt": (["trt", "x:z"], 1),
    "y ~ sex + trt:sex:f3": (["sex", "sex:trt:f3"], 1),
    "y ~ trt + sex + trt:x:sex": (["trt", "sex", "trt:sex:x"], 1),
    "y ~ trt*sex*f3 - trt:sex:f3": (["trt", "sex", "f3", "trt:sex", "trt:f3", "sex:f3"], 1),
    "y ~ 1": ([], 1),
    "y ~ x + 1 - 1 + 1": (["x"], 1),
    "y ~ (a+b):(c+d2)": (["a:c", "a:d2", "b:c", "b:d2"], 1),
    "y ~ 1 + 0 + x": (["x"], 0),
    "y ~ 0 + 1 + x": (["x"], 1),
    "y ~ x - 0": (["x"], 1),
    "y ~ -1 + x": (["x"], 0),
    "y ~ (a+b)^2 + x": (["a", "b", "x", "a:b"], 1),
    "y~ a*b - a": (["b", "a:b"], 1),
    "y ~ x + I(x^2) + x:a - 1 + 1": (["x", "I(x^2)", "x:a"], 1),
    "y ~ -x + a": (["a"], 1),
    "y ~ (a+b+c)^2 - a:b": (["a", "b", "c", "a:c", "b:c"], 1),
    "y ~ I(x*2) + I(x**2) + I(x-1) + I(-x) + I(x/2+ z)": (
        ["I(x * 2)", "I(x^2)", "I(x - 1)", "I(-x)", "I(x/2 + z)"], 1
    ),
    "y ~ log(z) + exp(x)": (["log(z)", "exp(x)"], 1),
    "y ~ I(x^2):trt + trt": (["trt", "I(x^2):trt"], 1),
    "y ~ sqrt(z) * trt": (["sqrt(z)", "trt", "sqrt(z):trt"], 1),
    "y ~ (trt + x)*(sex + z)": (
        ["trt", "x", "sex", "z", "trt:sex", "trt:z", "x:sex", "x:z"], 1
    ),
}  # fmt: skip


@pytest.mark.parametrize("formula", list(R_TERMS))
def test_term_labels_and_intercept_match_r(formula):
    labels, intercept = R_TERMS[formula]
    lhs, rhs = formula.split("~", 1)
    spec = parse_rhs(rhs)
    assert list(spec.term_labels) == labels
    assert spec.intercept == bool(intercept)


# R: deparse(parse(text = e)[[1]])
R_DEPARSE = {
    "x %% 2": "x%%2", "x %/% 2": "x%/%2", "x %in% y": "x %in% y", "!x": "!x",
    "x & y": "x & y", "x | y": "x | y", "x >= 2": "x >= 2", "x == 'a'": 'x == "a"',
    "-x^2": "-x^2", "(-x)^2": "(-x)^2", "x^-1": "x^-1", "2.0*x": "2 * x",
    "1e5*x": "1e+05 * x", "100000*x": "1e+05 * x", "123456*x": "123456 * x",
    "0.1+x": "0.1 + x", "1e-10*x": "1e-10 * x", "1/3*x": "1/3 * x", "x/(1+x)": "x/(1 + x)",
    "log(x, 2)": "log(x, 2)", "exp(-x)": "exp(-x)", "- x": "-x", "x - -1": "x - -1",
    "f(g(x))": "f(g(x))", "`my var` + 1": "`my var` + 1", "a.b + c_d": "a.b + c_d",
    "x ^ 2": "x^2", "x**2": "x^2", "TRUE & x": "TRUE & x", "3L": "3L", "1e+15": "1e+15",
    "1e15+1": "1e+15 + 1", "0.00001": "1e-05", "0.0001": "1e-04", "2 * (x + 1)": "2 * (x + 1)",
    "+x": "+x",
}  # fmt: skip


@pytest.mark.parametrize("text", list(R_DEPARSE))
def test_deparse_matches_r(text):
    assert deparse(parse_expr(text)) == R_DEPARSE[text]


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2"), (0.5, "0.5"), (100000.0, "1e+05"), (123456.0, "123456"), (0.0001, "1e-04"),
     (0.001, "0.001"), (1 / 3, "0.333333333333333"), (-2.5, "-2.5"), (1e15, "1e+15"),
     (0.0, "0"), (float("inf"), "Inf"), (float("nan"), "NaN")],
)  # fmt: skip
def test_format_r_number(value, text):
    assert format_r_number(value) == text


def test_parse_formula_parts():
    f = parse_formula("y ~ trt * sex + (1 | id)")
    assert isinstance(f, ParsedFormula)
    assert f.response == "y"
    assert f.fixed == "trt * sex"
    assert f.random == (RandomSpec("1", "id", True),)
    assert f.text == "y ~ trt * sex + (1 | id)"
    assert str(f) == "y ~ trt * sex + (1 | id)"


def test_response_forms_are_printed_as_r():
    assert parse_formula("cbind(s,n-s) ~ x + (1|g)").response == "cbind(s, n - s)"
    assert parse_formula("I(y>0) ~ x + (1|g)").response == "I(y > 0)"


def test_only_random_terms_leaves_intercept():
    f = parse_formula("y ~ (1 | g)")
    assert f.fixed == "1"
    assert f.fixed_spec.intercept and f.fixed_spec.terms == ()
    f0 = parse_formula("y ~ 0 + (1 | g)")
    assert f0.fixed == "0"
    assert not f0.fixed_spec.intercept


def test_intercept_removal_alongside_random_terms():
    f = parse_formula("y ~ x - 1 + (1 | g)")
    assert f.fixed == "x - 1"
    assert not f.fixed_spec.intercept
    f = parse_formula("y ~ -1 + x + (x | g)")
    assert f.fixed == "-1 + x"
    assert not f.fixed_spec.intercept
    assert f.random == (RandomSpec("x", "g"),)


# R: lme4::findbars(y ~ ...) (lme4 1.1-31)
#   (1|a/b)           -> 1 | b:a ; 1 | a
#   (x|a/b/c3)        -> x | c3:(b:a) ; x | b:a ; x | a
#   (1+x||a) + (1|b)  -> 1 | a ; 0 + x | a ; 1 | b
#   (0+x||a)          -> 0 + x | a
#   (x||a)            -> 1 | a ; 0 + x | a
#   (trt||a)          -> 1 | a ; 0 + trt | a
#   (x||a/b)          -> 1 | b:a ; 1 | a ; 0 + x | b:a ; 0 + x | a
#   (x+z||a) + (1|b)  -> 1 | a ; 0 + x | a ; 0 + z | a ; 1 | b
#   (1|a/b:c)         -> 1 | b:c:a ; 1 | a
LME4_FINDBARS = {
    "y ~ (1|a/b)": [("1", "b:a"), ("1", "a")],
    "y ~ (x|a/b/c3)": [("x", "c3:(b:a)"), ("x", "b:a"), ("x", "a")],
    "y ~ (1+x||a) + (1|b)": [("1", "a"), ("0 + x", "a"), ("1", "b")],
    "y ~ (0+x||a)": [("0 + x", "a")],
    "y ~ (x||a)": [("1", "a"), ("0 + x", "a")],
    "y ~ (trt||a)": [("1", "a"), ("0 + trt", "a")],
    "y ~ (x||a/b)": [("1", "b:a"), ("1", "a"), ("0 + x", "b:a"), ("0 + x", "a")],
    "y ~ (x+z||a) + (1|b)": [("1", "a"), ("0 + x", "a"), ("0 + z", "a"), ("1", "b")],
    "y ~ (1|a/b:c)": [("1", "b:c:a"), ("1", "a")],
    "y ~ (1|a:b)": [("1", "a:b")],
    "y ~ (1 + x | g) + (1 | h)": [("1 + x", "g"), ("1", "h")],
}


@pytest.mark.parametrize("formula", list(LME4_FINDBARS))
def test_random_expansions_match_lme4_findbars(formula):
    got = [(r.expr, r.group) for r in parse_formula(formula).random]
    assert got == LME4_FINDBARS[formula]


def test_double_bar_terms_are_uncorrelated_and_share_group():
    f = parse_formula("y ~ x + (1 + x || g)")
    assert f.random == (RandomSpec("1", "g", False), RandomSpec("0 + x", "g", False))


def test_group_factors_of_nested_names():
    assert group_factors("c3:(b:a)") == ("c3", "b", "a")
    assert group_factors("b:a") == ("b", "a")
    assert group_factors("id") == ("id",)
    assert group_factors("`my id`") == ("my id",)
    assert parse_formula("y ~ (1|a/b)").random[0].factors == ("b", "a")


def test_random_spec_model():
    spec = RandomSpec("0 + x + z", "g").spec
    assert not spec.intercept
    assert spec.term_labels == ("x", "z")
    assert RandomSpec("x - 1", "g").spec.intercept is False


def test_offsets_are_not_terms():
    spec = parse_rhs("x + offset(log(n)) + offset(z)")
    assert spec.term_labels == ("x",)
    assert [label for label, _ in spec.offsets] == ["offset(log(n))", "offset(z)"]
    assert [deparse(node) for _, node in spec.offsets] == ["log(n)", "z"]


def test_variables_keep_first_appearance_order():
    spec = parse_rhs("b + a:b + I(x^2)")
    assert [label for label, _ in spec.variables] == ["b", "a", "I(x^2)"]


def test_backquoted_names():
    f = parse_formula("y ~ `dose (mg)` + (1 | `subject id`)")
    assert f.fixed == "`dose (mg)`"
    assert f.random[0].group == "`subject id`"
    assert f.random[0].factors == ("subject id",)
    assert parse_rhs(f.fixed).variables[0][1].id == "dose (mg)"


def test_numpy_function_names_parse():
    assert parse_rhs("np.log(x) + numpy.sqrt(z)").term_labels == ("np.log(x)", "numpy.sqrt(z)")


# ------------------------------------------------------------------------- errors


def test_formula_must_be_a_string():
    with pytest.raises(TypeError, match="formula must be a string"):
        parse_formula(3)  # type: ignore[arg-type]


def test_formula_needs_tilde():
    with pytest.raises(ValueError, match="has no '~'"):
        parse_formula("y x")


def test_formula_needs_a_response():
    with pytest.raises(ValueError, match="has no response"):
        parse_formula("~ x + (1 | g)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("y ~ (x + (1 | g)", "expected '\\)'"),
        ("y ~ x + )", "unexpected '\\)'"),
        ("y ~ x + $", "unexpected character '\\$'"),
        ("y ~ x ~ z", "only one '~'"),
        ("y ~ x +", "ends too early"),
        ("y ~ ()", "empty parentheses"),
        ("y ~ a < b < c", "cannot be chained"),
    ],
)
def test_syntax_errors_point_at_the_problem(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_formula(text)
    assert "^" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("y ~ x + (1 | a*b)", "unsupported grouping factor 'a \\* b'"),
        ("y ~ x + 1 | g", "must be in its own parentheses"),
        ("y ~ x * (1 | g)", "must be in its own parentheses"),
        ("y ~ x - (1 | g)", "cannot be subtracted"),
        ("y ~ (a + b)^x + (1|g)", "positive whole number"),
        ("y ~ (a + b)^1.5 + (1|g)", "positive whole number"),
        ("y ~ offset(z):x + (1|g)", "cannot be part of an interaction"),
        ("y ~ 2 + x + (1|g)", "is not a term"),
        ("y ~ 'a' + x + (1|g)", "a string"),
        ("y ~ x + (offset(z) | g)", "offset\\(\\) cannot be used"),
        ("y ~ x + (0 | g)", "has no columns"),
        ("y ~ x + ((1 | g) | h)", "nested bars"),
    ],
)
def test_bad_formulas(text, message):
    with pytest.raises(ValueError, match=message):
        parse_formula(text)
