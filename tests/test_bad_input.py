"""Bad input, answered clearly (issue 13): every case names the problem and what to do.

Each case asserts the exception class and a fragment of its message (or the warning class),
and that the caller's frame is unchanged afterwards (compared with a deep copy taken before
the call). Groups: data, formula, arguments, numerics, checkers, RRandom, injection. The
message fragments are the specification of each message, not output pasted back.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest

import glmmteach as gt
from glmmteach import exercises as ex
from glmmteach import glmer, rcompat, simulate
from glmmteach.course.exercises.feedback import INVALID, NOT_ATTEMPTED
from glmmteach.warnings import (
    ConvergenceWarning,
    GroupSeparationWarning,
    NonIntegerSuccessesWarning,
    RCompatWarning,
    RowsDroppedWarning,
    SeparationWarning,
)


def _frame() -> pd.DataFrame:
    """48 rows, 8 clusters of 6; a response that varies within clusters."""
    g = np.repeat(np.arange(8), 6)
    x = np.round(np.linspace(-2, 2, 48) * np.tile([1, -1], 24), 3)
    ones = [1, 5, 2, 4, 1, 5, 3, 2]  # successes per cluster of 6: clusters differ
    y = np.concatenate([np.r_[np.ones(k), np.zeros(6 - k)][[0, 3, 1, 4, 2, 5]] for k in ones])
    y = y.astype(int)
    return pd.DataFrame({
        "y": y, "x": x, "z": np.round(np.linspace(0, 1, 48) ** 2, 3),
        "trt": np.where(g % 2, "b", "a"), "g": g, "k": np.tile([0, 1, 2, 3, 4, 5], 8),
        "n": 5})


@pytest.fixture(scope="module")
def fitted():
    return glmer("y ~ x + (1 | g)", _frame())


def _check_raises(make, action, exc, fragment):
    """Run ``action(frame)`` on a fresh frame; check the error and that the frame is intact."""
    d = make()
    before = copy.deepcopy(d)
    with pytest.raises(exc, match=fragment):
        action(d)
    pd.testing.assert_frame_equal(d, before)
    assert list(d.columns) == list(before.columns)


def _edit(**changes):
    """A frame maker: the base frame with some columns replaced (callables get the frame)."""
    def make():
        d = _frame()
        for k, v in changes.items():
            d[k] = v(d) if callable(v) else v
        return d
    return make


def _dup_x():
    d = _frame()
    return pd.concat([d, d[["x"]]], axis=1)


def _mixed_response():
    d = _frame()
    y = d["y"].astype(object)
    y.iloc[0] = "1"
    d["y"] = y
    return d


def _all_missing():
    d = _frame()
    d["x"] = np.nan
    return d


def _one_row_per_group():
    d = _frame()
    d["g"] = np.arange(len(d))
    return d


def _fit(formula, **kw):
    return lambda d: glmer(formula, d, **kw)


# ------------------------------------------------------------------------------------ data

DATA_CASES = [
    ("not-a-frame", _frame, lambda d: glmer("y ~ x + (1 | g)", d.to_dict("list")), TypeError,
     "must be a pandas DataFrame"),
    ("numpy-array", _frame, lambda d: glmer("y ~ x + (1 | g)", d.to_numpy()), TypeError,
     "pandas DataFrame"),
    ("missing-column", _frame, _fit("y ~ w + (1 | g)"), ValueError, "column 'w' is not in data"),
    ("wrong-case", _frame, _fit("y ~ X + (1 | g)"), ValueError, "did you mean 'x'"),
    ("typo", _frame, _fit("y ~ trr + (1 | g)"), ValueError, "did you mean 'trt'"),
    ("wrong-case-group", _frame, _fit("y ~ x + (1 | G)"), ValueError, "did you mean 'g'"),
    ("zero-rows", lambda: _frame().iloc[:0], _fit("y ~ x + (1 | g)"), ValueError,
     "has no rows"),
    ("one-row", lambda: _frame().iloc[:1], _fit("y ~ x + (1 | g)"), ValueError,
     "too few rows"),
    ("duplicate-column", _dup_x, _fit("y ~ x + (1 | g)"), ValueError,
     r"duplicated column names used by the model: 'x' \(2 times\)"),
    ("response-012", _edit(y=lambda d: d.k % 3), _fit("y ~ x + (1 | g)"), ValueError,
     "must hold 0/1 values"),
    ("response-counts", _frame, _fit("k ~ x + (1 | g)"), ValueError,
     r"cbind\(successes, failures\)"),
    ("response-3-levels", _edit(y=lambda d: np.array(["lo", "mid", "hi"])[d.k % 3]),
     _fit("y ~ x + (1 | g)"), ValueError, "has 3 levels"),
    ("response-mixed-int-str", _mixed_response, _fit("y ~ x + (1 | g)"), ValueError,
     r"mixes number and string values: 0, 1, '1'"),
    ("response-all-0", _edit(y=0), _fit("y ~ x + (1 | g)"), ValueError, "no successes"),
    ("response-all-1", _edit(y=1), _fit("y ~ x + (1 | g)"), ValueError, "no failures"),
    ("response-inf", _edit(y=lambda d: np.where(d.k == 5, np.inf, d.y)),
     _fit("y ~ x + (1 | g)"), ValueError, "must hold 0/1"),
    ("proportion-above-1", _edit(p=lambda d: d.k / 2), _fit("p ~ x + (1 | g)", weights="n"),
     ValueError, r"proportion in \[0, 1\]"),
    ("weights-negative", _edit(n=-1, p=0.4), _fit("p ~ x + (1 | g)", weights="n"),
     ValueError, "must be >= 0"),
    ("weights-length", _frame, lambda d: glmer("y ~ x + (1 | g)", d, weights=[1, 2]),
     ValueError, "weights has 2 values but data has 48 rows"),
    ("weights-all-zero", _edit(n=0, p=0.4), _fit("p ~ x + (1 | g)", weights="n"),
     ValueError, "all zero"),
    ("weights-inf", _edit(n=np.inf, p=0.4), _fit("p ~ x + (1 | g)", weights="n"),
     ValueError, "must be finite"),
    ("weights-column-missing", _frame, _fit("y ~ x + (1 | g)", weights="m"), ValueError,
     "column 'm' is not in data"),
    ("weights-strings", _frame, _fit("y ~ x + (1 | g)", weights="trt"), TypeError,
     "must be numeric"),
    ("weights-with-cbind", _frame,
     lambda d: glmer("cbind(k, n - k) ~ x + (1 | g)", d, weights="n"), ValueError,
     "cannot be combined"),
    ("cbind-trials-not-failures", _frame, _fit("cbind(k, k - n) ~ x + (1 | g)"), ValueError,
     "successes exceed trials"),
    ("cbind-negative", _edit(k=lambda d: d.k - 1), _fit("cbind(k, n - k) ~ x + (1 | g)"),
     ValueError, "negative"),
    ("cbind-three-columns", _frame, _fit("cbind(k, n, y) ~ x + (1 | g)"), ValueError,
     "takes two columns"),
    ("predictor-inf", _edit(x=lambda d: np.where(d.k == 0, np.inf, d.x)),
     _fit("y ~ x + (1 | g)"), ValueError, "predictor 'x' is not finite"),
    ("group-one-level", _edit(g=1), _fit("y ~ x + (1 | g)"), ValueError,
     "needs at least 2 levels"),
    ("one-row-per-group", _one_row_per_group, _fit("y ~ x + (1 | g)"), ValueError,
     "must be < number of observations"),
    ("string-in-arithmetic", _frame, _fit("y ~ I(trt * 2) + (1 | g)"), ValueError,
     "categorical"),
    ("single-level-factor", _edit(trt="a"), _fit("y ~ trt + (1 | g)"), ValueError,
     "single level"),
    ("response-single-value", _frame, _fit("I(1) ~ x + (1 | g)"), ValueError,
     "single value"),
]


@pytest.mark.parametrize("make, action, exc, fragment",
                         [c[1:] for c in DATA_CASES], ids=[c[0] for c in DATA_CASES])
def test_data(make, action, exc, fragment):
    _check_raises(make, action, exc, fragment)


def test_data_all_rows_missing():
    d = _all_missing()
    before = copy.deepcopy(d)
    with pytest.warns(RowsDroppedWarning), pytest.raises(ValueError, match="no rows left"):
        glmer("y ~ x + (1 | g)", d)
    pd.testing.assert_frame_equal(d, before)


# ------------------------------------------------------------------------------------ formula

FORMULA_CASES = [
    ("not-a-string", 3, TypeError, "formula must be a string"),
    ("no-tilde", "y x", ValueError, "has no '~'"),
    ("no-response", "~ x + (1 | g)", ValueError, "has no response"),
    ("no-random-term", "y ~ x", ValueError, "no random-effect term"),
    ("two-tildes", "y ~ x ~ z + (1 | g)", ValueError, "only one '~'"),
    ("unbalanced", "y ~ (x + (1 | g)", ValueError, "expected '\\)'"),
    ("empty-parentheses", "y ~ x + () + (1 | g)", ValueError, "empty parentheses"),
    ("bar-without-parentheses", "y ~ x + 1 | g", ValueError, "its own parentheses"),
    ("nested-bars", "y ~ x + (1 | (trt | g))", ValueError, "nested bars"),
    ("subtracted-random-term", "y ~ x - (1 | g)", ValueError, "cannot be subtracted"),
    ("number-term", "y ~ 2 + (1 | g)", ValueError, "is not a term"),
    ("string-term", "y ~ 'a' + (1 | g)", ValueError, "is not a term"),
    ("fractional-power", "y ~ (x + z)^1.5 + (1 | g)", ValueError, "positive whole number"),
    ("sum-contrasts", "y ~ C(trt, contr.sum) + (1 | g)", ValueError,
     "treatment contrasts only"),
    ("unknown-function", "y ~ foo(x) + (1 | g)", ValueError, "'foo' is not supported"),
    ("too-deeply-nested", "y ~ " + "(" * 60 + "x" + ")" * 60 + " + (1 | g)", ValueError,
     "nested more than 40 levels"),
    ("deep-unary", "y ~ " + "-" * 60 + "x + (1 | g)", ValueError, "nested more than"),
    ("bad-character", "y ~ x $ z + (1 | g)", ValueError, "unexpected character '\\$'"),
    ("offset-in-interaction", "y ~ offset(x):z + (1 | g)", ValueError,
     "cannot be part of an interaction"),
    ("chained-comparison", "y ~ I(x < z < 1) + (1 | g)", ValueError, "cannot be chained"),
    ("empty-bar", "y ~ x + (| g)", ValueError, "unexpected '\\|'"),
    ("unknown-group", "y ~ x + (1 | school)", ValueError, "column 'school' is not in data"),
]


@pytest.mark.parametrize("formula, exc, fragment", [c[1:] for c in FORMULA_CASES],
                         ids=[c[0] for c in FORMULA_CASES])
def test_formula(formula, exc, fragment):
    _check_raises(_frame, lambda d: glmer(formula, d), exc, fragment)


def test_formula_with_600_terms_is_read_iteratively():
    # 600 repeats of one term are one term (R's terms() keeps each term once): the fit is
    # the fit of y ~ x, and nothing recurses 600 levels deep
    d = _frame()
    before = copy.deepcopy(d)
    long = glmer("y ~ " + " + ".join(["x"] * 600) + " + (1 | g)", d)
    short = glmer("y ~ x + (1 | g)", d)
    assert list(long.fixef.index) == ["(Intercept)", "x"]
    np.testing.assert_allclose(long.fixef, short.fixef, rtol=1e-10)
    print(long.summary())
    pd.testing.assert_frame_equal(d, before)


# ------------------------------------------------------------------------------------ arguments

ARGUMENT_CASES = [
    ("family-poisson", lambda d, m: glmer("y ~ x + (1 | g)", d, family="poisson"), ValueError,
     "binomial GLMMs only"),
    ("family-number", lambda d, m: glmer("y ~ x + (1 | g)", d, family=3), TypeError,
     "family must be"),
    ("link-identity", lambda d, m: gt.binomial("identity"), ValueError, "not supported"),
    ("nagq-negative", lambda d, m: glmer("y ~ x + (1 | g)", d, nAGQ=-1), ValueError, ">= 0"),
    ("nagq-fraction", lambda d, m: glmer("y ~ x + (1 | g)", d, nAGQ=1.5), ValueError,
     "whole number"),
    ("nagq-bool", lambda d, m: glmer("y ~ x + (1 | g)", d, nAGQ=True), ValueError,
     "whole number"),
    ("nagq-too-many", lambda d, m: glmer("y ~ x + (1 | g)", d, nAGQ=101), ValueError,
     "at most 100"),
    ("nagq-two-terms", lambda d, m: glmer("y ~ x + (1 | g) + (1 | trt)", d, nAGQ=5),
     ValueError, "single scalar random-effect term"),
    ("control-string", lambda d, m: glmer("y ~ x + (1 | g)", d, control="fast"), TypeError,
     "control must be"),
    ("simulate-nsim-0", lambda d, m: m.simulate(0), ValueError, "at least 1 simulation"),
    ("simulate-nsim-fraction", lambda d, m: m.simulate(2.5), ValueError, "whole number"),
    ("simulate-seed-string", lambda d, m: m.simulate(2, seed="abc"), ValueError,
     "seed must be None, a whole number >= 0"),
    ("simulate-seed-float", lambda d, m: m.simulate(2, seed=1.5), ValueError,
     "seed must be None"),
    ("simulate-seed-negative", lambda d, m: m.simulate(2, seed=-1), ValueError,
     "seed must be None"),
    ("simulate-seed-bool", lambda d, m: m.simulate(2, seed=True), ValueError,
     "not True"),
    ("bootstrap-seed", lambda d, m: gt.bootstrap(m, nsim=2, seed="x"), ValueError,
     "seed must be None"),
    ("bootstrap-nsim", lambda d, m: gt.bootstrap(m, nsim=0), ValueError, "at least 1"),
    ("checks-seed", lambda d, m: gt.checks.scaled_residuals(m, seed=-3), ValueError,
     "seed must be None"),
    ("make-design-seed", lambda d, m: simulate.make_design(4, 2, seed="abc"), ValueError,
     "seed must be a non-negative int"),
    ("predict-type", lambda d, m: m.predict(type="prob"), ValueError,
     "use 'link' or 'response'"),
    ("predict-newdata-dict", lambda d, m: m.predict(newdata={"x": [1.0]}), TypeError,
     "must be a pandas DataFrame"),
    ("predict-newdata-column", lambda d, m: m.predict(newdata=d[["x"]]), ValueError,
     "column 'g' is not in newdata"),
    ("predict-new-level", lambda d, m: m.predict(newdata=d.assign(g=d.g + 100)), ValueError,
     "allow_new_levels=True"),
    ("re-form-number", lambda d, m: m.predict(re_form=5), TypeError, "re_form must be None"),
    ("re-form-text", lambda d, m: m.predict(re_form="x"), ValueError, "is not understood"),
    ("re-form-other-term", lambda d, m: m.predict(re_form="~(1|trt)"), ValueError,
     "is not a random-effect term of the model"),
    ("residual-type", lambda d, m: m.residuals("raw"), ValueError, "not a residual type"),
    ("refit-length", lambda d, m: m.refit([0, 1]), ValueError, "new_response has 2 values"),
    ("refit-range", lambda d, m: m.refit(np.full(len(d), 2.0)), ValueError,
     r"proportions in \[0, 1\]"),
    ("confint-not-a-model", lambda d, m: gt.confint("m"), TypeError, "fitted model"),
    ("confint-method", lambda d, m: gt.confint(m, method="foo"), ValueError,
     "not an interval method"),
    ("confint-level", lambda d, m: gt.confint(m, level=1.5, method="wald"), ValueError,
     r"outside \(0, 1\)"),
    ("confint-parm", lambda d, m: gt.confint(m, parm="zz", method="wald"), ValueError,
     "not a parameter of this model"),
    ("anova-one-model", lambda d, m: gt.anova(m), ValueError, "at least two"),
    ("anova-string", lambda d, m: gt.anova(m, "x"), TypeError, "not a fitted glmer model"),
]


@pytest.mark.parametrize("action, exc, fragment", [c[1:] for c in ARGUMENT_CASES],
                         ids=[c[0] for c in ARGUMENT_CASES])
def test_arguments(fitted, action, exc, fragment):
    _check_raises(_frame, lambda d: action(d, fitted), exc, fragment)


def test_arguments_seed_checked_everywhere_a_result_is_simulated(fitted):
    # the same seed gives the same draws; a Generator is accepted as it is
    a = fitted.simulate(2, seed=5)
    b = fitted.simulate(2, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------------------------ numerics

NUMERIC_CASES = [
    ("predictor-1e300", _edit(x=lambda d: np.where(d.k == 3, 1e300, d.x)),
     "y ~ x + (1 | g)", r"predictor 'x' has values as large as 1e\+300.*Rescale or centre"),
    ("predictor-minus-1e200", _edit(z=lambda d: np.where(d.k == 3, -1e200, d.z)),
     "y ~ x + z + (1 | g)", "predictor 'z'.*rows? .*positions"),
    ("covariate-1e300", _edit(z=lambda d: np.where(d.k == 3, 1e300, d.z)),
     "y ~ x + (1 + z | g)", "random-effect covariate 'z'"),
    ("expression-overflows-to-large", _frame, "y ~ I(x * 1e+40) + (1 | g)",
     r"'I\(x \* 1e\+40\)'"),
    ("exp-overflow", _frame, "y ~ exp(x * 1000) + (1 | g)", "is not finite"),
    ("log-negative", _frame, "y ~ log(x) + (1 | g)", "is not finite"),
    ("divide-by-zero", _frame, "y ~ I(x / 0) + (1 | g)", "is not finite"),
]


@pytest.mark.parametrize("make, formula, fragment", [c[1:] for c in NUMERIC_CASES],
                         ids=[c[0] for c in NUMERIC_CASES])
def test_numerics_raise(make, formula, fragment):
    _check_raises(make, lambda d: glmer(formula, d), ValueError, fragment)


def test_numerics_noninteger_successes_warn():
    d = _frame().assign(p=lambda f: np.round(f.z, 2))  # proportions; 5 x p not whole
    before = copy.deepcopy(d)
    with pytest.warns(NonIntegerSuccessesWarning, match="non-integer #successes"):
        glmer("p ~ x + (1 | g)", d, weights="n")
    pd.testing.assert_frame_equal(d, before)


def test_numerics_binary_with_noninteger_weights_warn():
    d = _frame().assign(w=1.5)
    before = copy.deepcopy(d)
    with pytest.warns(NonIntegerSuccessesWarning, match="'y'"):
        glmer("y ~ x + (1 | g)", d, weights="w")
    pd.testing.assert_frame_equal(d, before)


def _caught(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w.category for w in caught]


def test_numerics_noninteger_cbind_counts_warn():
    d = _frame().assign(s=lambda f: f.k + 0.5)
    assert NonIntegerSuccessesWarning in _caught(lambda: glmer("cbind(s, n) ~ x + (1 | g)", d))


def test_numerics_whole_proportions_do_not_warn():
    d = _frame().assign(p=lambda f: f.k / 5)  # 5 x p is whole: no such warning
    assert NonIntegerSuccessesWarning not in _caught(
        lambda: glmer("p ~ x + (1 | g)", d, weights="n"))


def test_numerics_group_level_separation_is_flagged():
    # every cluster all 0 or all 1: the SD of (1 | g) is not identified
    d = _frame().assign(y=lambda f: (f.g % 2).astype(int))
    before = copy.deepcopy(d)
    with pytest.warns(ConvergenceWarning) as rec:  # GroupSeparationWarning is one
        m = glmer("y ~ x + (1 | g)", d)
    msgs = [str(w.message) for w in rec if issubclass(w.category, GroupSeparationWarning)]
    assert msgs and "4 all 0 ('0', '2', '4', '6') and 4 all 1 ('1', '3', '5', '7')" in msgs[0]
    assert not m.converged
    assert any("not identified" in s for s in m.optimizer_messages)
    text = str(m.summary())
    assert "separation at the group level" in text
    pd.testing.assert_frame_equal(d, before)


def test_numerics_summary_prints_after_separation_without_numpy_warnings():
    d = _frame().assign(y=lambda f: (f.x > 0).astype(int))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = glmer("y ~ x + (1 | g)", d)
        text = str(m.summary())
    kinds = {w.category for w in caught}
    assert SeparationWarning in kinds
    assert RuntimeWarning not in kinds, [str(w.message) for w in caught]
    assert "Scaled residuals" in text and "NaN" not in text.split("Random effects")[0]
    assert np.isfinite(np.asarray(m.residuals("pearson"))).all()


# ------------------------------------------------------------------------------------ checkers

def _cells_frame():
    return pd.DataFrame({"trt": ["a", "a", "b", "b"], "y": [0, 1, 1, 1]})


CHECKER_CASES = [
    ("cell-proportions-missing-column",
     lambda d: ex.check_cell_proportions({"a": 0.5}, data=d, by=["trt", "age"]), INVALID,
     "no column 'age'"),
    ("cell-proportions-missing-response",
     lambda d: ex.check_cell_proportions({"a": 0.5}, data=d.drop(columns="y"), by=["trt"]),
     INVALID, "no column 'y'"),
    ("cell-proportions-data-not-frame",
     lambda d: ex.check_cell_proportions({"a": 0.5}, data=[1, 2], by=["trt"]), INVALID,
     "should be a pandas DataFrame"),
    ("design-not-a-frame",
     lambda d: ex.check_design([1, 2], n_subjects=2, n_days=2, factors={"trt": ["a", "b"]}),
     INVALID, "should be a pandas DataFrame"),
    ("design-missing-column",
     lambda d: ex.check_design(d, n_subjects=2, n_days=2, factors={"trt": ["a", "b"]}),
     INVALID, "no column 'id'"),
    ("answer-not-defined", lambda d: ex.check_cell_proportions(
        lambda: undefined_name, data=d, by=["trt"]), NOT_ATTEMPTED,  # noqa: F821
     "is not defined yet"),
    ("answer-not-implemented", lambda d: ex.check_cell_proportions(
        lambda: (_ for _ in ()).throw(NotImplementedError()), data=d, by=["trt"]),
     NOT_ATTEMPTED, "NotImplementedError"),
    ("answer-raises", lambda d: ex.check_cell_proportions(lambda: 1 / 0, data=d, by=["trt"]),
     INVALID, "raised ZeroDivisionError"),
    ("fitted-model-is-a-frame", lambda d: ex.check_fitted_model(
        d, data=d, factors=["trt"]), INVALID, "should be the result of glmmteach.glmer"),
]


@pytest.mark.parametrize("action, status, fragment", [c[1:] for c in CHECKER_CASES],
                         ids=[c[0] for c in CHECKER_CASES])
def test_checkers(action, status, fragment):
    d = _cells_frame()
    before = copy.deepcopy(d)
    fb = action(d)
    assert fb.status == status, fb.message
    assert fragment in fb.message
    assert "please report it" not in fb.message
    pd.testing.assert_frame_equal(d, before)


# ------------------------------------------------------------------------------------ RRandom

RRANDOM_CASES = [
    ("seed-string", lambda: rcompat.RRandom("abc"), "must be an integer"),
    ("seed-float", lambda: rcompat.RRandom(1.5), "must be an integer, got 1.5"),
    ("seed-none", lambda: rcompat.RRandom(None), "must be an integer"),
    ("seed-out-of-range", lambda: rcompat.RRandom(2**40), "R's integer range"),
    ("runif-negative-n", lambda: rcompat.RRandom(1).runif(-1), "non-negative integer"),
    ("runif-string-n", lambda: rcompat.RRandom(1).runif("a"), "`n` must be an integer"),
    ("runif-nan-min", lambda: rcompat.RRandom(1).runif(3, min=np.nan), "must be finite"),
    ("runif-max-below-min", lambda: rcompat.RRandom(1).runif(3, min=2, max=1),
     "`max` must be >= `min`"),
    ("rnorm-negative-sd", lambda: rcompat.RRandom(1).rnorm(3, sd=-1), "`sd` must be >= 0"),
    ("rnorm-fractional-n", lambda: rcompat.RRandom(1).rnorm(1.5), "`n` must be an integer"),
    ("rnorm-infinite-mean", lambda: rcompat.RRandom(1).rnorm(3, mean=np.inf),
     "must be finite"),
    ("rbinom-negative-size", lambda: rcompat.RRandom(1).rbinom(3, size=-1, prob=0.5),
     "non-negative whole numbers"),
    ("rbinom-fractional-size", lambda: rcompat.RRandom(1).rbinom(3, size=1.5, prob=0.5),
     "non-negative whole numbers"),
    ("rbinom-bad-recycling", lambda: rcompat.RRandom(1).rbinom(3, size=[1, 2], prob=0.5),
     "neither 1 nor a divisor"),
    ("sample-too-large", lambda: rcompat.RRandom(1).sample([1, 2, 3], size=5),
     "cannot exceed the population size"),
    ("sample-negative-size", lambda: rcompat.RRandom(1).sample([1, 2, 3], size=-1),
     "non-negative integer"),
    ("qnorm-negative-sd", lambda: rcompat.qnorm(0.5, sd=-1), "`sd` must be >= 0"),
    ("qnorm-string", lambda: rcompat.qnorm("a"), "must be numeric"),
]


@pytest.mark.parametrize("action, fragment", [c[1:] for c in RRANDOM_CASES],
                         ids=[c[0] for c in RRANDOM_CASES])
def test_rrandom(action, fragment):
    _check_raises(_frame, lambda d: action(), ValueError, fragment)


def test_rrandom_probability_outside_0_1_warns_and_gives_nan():
    with pytest.warns(RCompatWarning, match="outside"):
        out = rcompat.RRandom(1).rbinom(3, size=2, prob=1.5)
    assert np.isnan(out).all()


def test_rrandom_qnorm_outside_0_1_warns_and_gives_nan():
    with pytest.warns(RCompatWarning, match="outside"):
        assert np.isnan(rcompat.qnorm(2.0))


# ------------------------------------------------------------------------------------ injection

INJECTIONS = [
    ("import-system", "y ~ __import__('os').system('touch {s}') + (1 | g)"),
    ("import-system-in-I", "y ~ I(__import__('os').system('touch {s}')) + (1 | g)"),
    ("import-in-response", "__import__('os').system('touch {s}') ~ x + (1 | g)"),
    ("open-call", "y ~ open('{s}', 'w') + (1 | g)"),
    ("open-in-I", "y ~ I(open('{s}', 'w')) + (1 | g)"),
    ("lambda", "y ~ (lambda: open('{s}', 'w'))() + (1 | g)"),
    ("os-system", "y ~ os.system('touch {s}') + (1 | g)"),
    ("eval", "y ~ eval(\"open('{s}', 'w')\") + (1 | g)"),
    ("exec", "y ~ exec(\"open('{s}', 'w')\") + (1 | g)"),
    ("getattr", "y ~ getattr(__builtins__, 'open')('{s}', 'w') + (1 | g)"),
    ("attribute-access", "y ~ x.__class__.__base__ + (1 | g)"),
    ("dunder-name", "y ~ __builtins__ + (1 | g)"),
    ("backquoted-code", "y ~ `__import__('os').system('touch {s}')` + (1 | g)"),
    ("statement-after-semicolon", "y ~ x + (1 | g); open('{s}', 'w')"),
    ("statement-after-newline", "y ~ x + (1 | g)\nopen('{s}', 'w')"),
    ("f-string", "y ~ f'{{open(\"{s}\", \"w\")}}' + (1 | g)"),
    ("subscript", "y ~ x[open('{s}', 'w')] + (1 | g)"),
    ("grouping-factor-code", "y ~ x + (1 | __import__('os').system('touch {s}'))"),
    ("offset-code", "y ~ x + offset(open('{s}', 'w')) + (1 | g)"),
    ("scale-code", "y ~ scale(open('{s}', 'w')) + (1 | g)"),
]


@pytest.mark.parametrize("template", [c[1] for c in INJECTIONS], ids=[c[0] for c in INJECTIONS])
def test_injection_formula_executes_nothing(template, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL"
    formula = template.format(s=str(sentinel))
    d = _frame()
    before = copy.deepcopy(d)
    with pytest.raises(ValueError):
        glmer(formula, d)
    assert not sentinel.exists()
    assert not any(tmp_path.iterdir())
    pd.testing.assert_frame_equal(d, before)


@pytest.mark.parametrize("where", ["re_form", "re_form_group", "weights", "newdata_column"])
def test_injection_other_arguments_execute_nothing(fitted, where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL"
    code = f"__import__('os').system('touch {sentinel}')"
    d = _frame()
    before = copy.deepcopy(d)
    with pytest.raises(ValueError):
        if where == "re_form":
            fitted.predict(re_form="~" + code)
        elif where == "re_form_group":
            fitted.predict(re_form=f"~(1 | {code})")
        elif where == "weights":
            glmer("y ~ x + (1 | g)", d, weights=code)
        else:
            fitted.predict(newdata=d.rename(columns={"x": code}))
    assert not sentinel.exists()
    pd.testing.assert_frame_equal(d, before)


def test_injection_column_named_like_code_is_only_data(tmp_path, monkeypatch):
    # a column whose name is code is a name, nothing more: it is used as data
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL"
    name = f"__import__('os').system('touch {sentinel}')"
    d = _frame().rename(columns={"x": name})
    m = glmer(f"y ~ `{name}` + (1 | g)", d)
    ref = glmer("y ~ x + (1 | g)", _frame())
    np.testing.assert_allclose(m.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=1e-10)
    assert not sentinel.exists()
