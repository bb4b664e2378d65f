"""The lme4 cross-check cases: data simulated from known parameters, a formula, glmer options.

Each :class:`CrossCheckCase` is fitted by ``glmmteach.glmer`` and by lme4 (through
``tests/roracle.py``) in ``tests/test_lme4_crosscheck.py``. Every generator uses its own
``numpy.random.default_rng(seed)``, so the data (and lme4's answers) are fixed. The data are
simulated from the parameters in ``truth`` with enough groups and moderate SDs that each model
is well identified, except ``singular_fit``, which is small and has a true SD of 0.

The cases cover (the numbers in brackets are the items of the cross-check plan):

1. the article's model ``y ~ trt * sex + (1|id)`` on the vegetables data [1];
2. ``cbind(s, f)`` counts [2], the same data as a proportion with ``weights=`` [3];
3. boolean [4] and two-level string / categorical responses [5];
4. probit [6] and cloglog [7] links;
5. random slopes: correlated ``(1 + x|g)`` [8], uncorrelated ``(1 + x||g)`` [9],
   ``(0 + x|g)`` alone and ``(1|g) + (0 + x|g)`` [10];
6. crossed ``(1|a) + (1|b)`` [11]; nested ``(1|a/b)`` and ``(1|a) + (1|a:b)`` [12];
7. adaptive Gauss-Hermite nAGQ = 5 on counts and nAGQ = 25 on 0/1 data [13];
8. a singular fit [14]; ``I(x^2)``, a 3-level factor in a numeric interaction, ``C()`` and
   ``factor()`` [15];
9. nAGQ = 0 [16];
10. larger shapes (issue 9), each compared with lme4 at ``tolPwrss = 1e-12``: three crossed
    and nested terms, a large nested design, nAGQ = 0 with a 24-level fixed factor, and
    adaptive quadrature on 1,200 groups [17];
11. glmer's lme4 arguments: the cauchit link, ``offset=`` beside ``offset()``, ``start=``,
    and ``control=`` (optimizer and tolerance) [18].
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

__all__ = ["CASES", "CASES_BY_NAME", "CrossCheckCase", "SAME_FIT_PAIRS", "vegetables_data"]

TESTS_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------------
# The case record
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CrossCheckCase:
    """One model to fit with glmmteach and with lme4.

    Attributes
    ----------
    name : str
        Test id.
    make_data : callable
        ``make_data() -> DataFrame``, deterministic (fixed seed); cached, returns a copy.
    formula : str
        lme4 syntax, identical for both fitters.
    nAGQ, weights, link
        The glmer options: ``glmer(formula, data, family=binomial(link), nAGQ=nAGQ,
        weights=weights)``; ``weights`` names a column.
    offset, start, control
        glmer's ``offset=`` (a column name), ``start=`` and ``control=`` (a dict).
    lme4_formula, lme4_start, lme4_control, lme4_offset
        What lme4 gets instead: its formula (default: ``formula``), R code for ``start =``
        and ``control =``, and the column for ``offset =``.
    tight_reference : bool
        Compare with lme4's fit at ``glmerControl(tolPwrss = 1e-12)`` (lme4 evaluating its
        objective exactly) instead of lme4's defaults.
    truth : dict
        The simulation's parameters ("fixef": {column name: value}, "sd": {...}, ...), for
        the R-side sanity check and for readers.
    expect_singular : bool
        lme4 is expected to put a variance (or a correlation) on the boundary.
    make_newdata : callable, optional
        ``make_newdata(data) -> DataFrame`` of rows to predict, with at least one grouping
        level not seen in the fit (its random effect is 0).
    description : str
        What the case exercises.
    """

    name: str
    make_data: Callable[[], pd.DataFrame]
    formula: str
    nAGQ: int = 1
    weights: str | None = None
    link: str = "logit"
    truth: dict[str, Any] = dataclasses.field(default_factory=dict)
    expect_singular: bool = False
    make_newdata: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    description: str = ""
    offset: str | None = None
    start: dict[str, Any] | None = None
    control: dict[str, Any] | None = None
    lme4_formula: str | None = None
    lme4_start: str | None = None
    lme4_control: str | None = None
    lme4_offset: str | None = None
    tight_reference: bool = False

    def data(self) -> pd.DataFrame:
        return self.make_data()

    def newdata(self) -> pd.DataFrame | None:
        if self.make_newdata is None:
            return None
        return self.make_newdata(self.data())

    def glmer_kwargs(self, glmmteach: Any) -> dict[str, Any]:
        """Keyword arguments for ``glmmteach.glmer(formula, data, **kwargs)``."""
        if self.link == "logit":
            family: Any = "binomial"
        else:
            family = glmmteach.binomial(link=self.link)
        kwargs: dict[str, Any] = {"family": family, "nAGQ": self.nAGQ}
        if self.weights is not None:
            kwargs["weights"] = self.weights
        for name in ("offset", "start", "control"):
            if getattr(self, name) is not None:
                kwargs[name] = getattr(self, name)
        return kwargs

    def lme4_spec(self, **options: Any):
        """The matching :class:`roracle.Lme4Spec` (predictions included when newdata exist)."""
        from roracle import Lme4Spec

        newdata = self.newdata()
        if self.lme4_start is not None:
            options.setdefault("start", self.lme4_start)
        if self.lme4_control is not None:
            options.setdefault("control", self.lme4_control)
        if self.lme4_offset is not None:
            options.setdefault("offset", self.lme4_offset)
        return Lme4Spec(
            data=self.data(),
            formula=self.lme4_formula or self.formula,
            nAGQ=self.nAGQ,
            weights=self.weights,
            link=self.link,
            predict=newdata is not None,
            newdata=newdata,
            name=self.name,
            **options,
        )


def _cached(make: Callable[[], pd.DataFrame]) -> Callable[[], pd.DataFrame]:
    """Cache a generator's frame; hand out copies so a test cannot alter another's data."""
    cached = functools.cache(make)

    @functools.wraps(make)
    def wrapper() -> pd.DataFrame:
        return cached().copy()

    return wrapper


def _labels(prefix: str, n: int) -> list[str]:
    width = len(str(n))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def _groups(prefix: str, n_groups: int, per_group: int) -> tuple[np.ndarray, pd.Categorical]:
    codes = np.repeat(np.arange(n_groups), per_group)
    labels = _labels(prefix, n_groups)
    return codes, pd.Categorical.from_codes(codes, categories=labels)


def _inv_link(link: str, eta: np.ndarray) -> np.ndarray:
    if link == "logit":
        return expit(eta)
    if link == "probit":
        return ndtr(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    if link == "cauchit":
        return 0.5 + np.arctan(eta) / np.pi
    raise ValueError(f"unknown link {link!r}")


# --------------------------------------------------------------------------------------------
# 1. The article's data
# --------------------------------------------------------------------------------------------


def _vegetables_placeholder() -> pd.DataFrame:
    """Same shape as the article's data (250 children x 14 days), simulated with numpy."""
    rng = np.random.default_rng(20210601)
    n_id, n_day = 250, 14
    trt = rng.choice(["control", "treat"], size=n_id)
    sex = rng.choice(["female", "male"], size=n_id)
    beta = {"(Intercept)": -0.31, "trttreat": 2.19, "sexmale": -0.63, "trttreat:sexmale": -1.22}
    eta_id = (
        beta["(Intercept)"]
        + beta["trttreat"] * (trt == "treat")
        + beta["sexmale"] * (sex == "male")
        + beta["trttreat:sexmale"] * ((trt == "treat") & (sex == "male"))
        + rng.normal(0.0, 0.2, size=n_id)
    )
    idx = np.repeat(np.arange(n_id), n_day)
    y = (rng.random(n_id * n_day) < expit(eta_id[idx])).astype(np.int64)
    return pd.DataFrame(
        {
            "id": idx + 1,
            "day": np.tile(np.arange(1, n_day + 1), n_id),
            "trt": trt[idx],
            "sex": sex[idx],
            "y": y,
        }
    )


def vegetables_data() -> pd.DataFrame:
    """The article's data: ``glmmteach.datasets.vegetables()`` once it exists.

    Until then the R-made copy ``tests/data/r_vegetables.csv`` (from
    ``tools/r_vegetables_reference.R``) when present, else a numpy placeholder of the same
    shape (columns id, day, trt, sex, y).
    """
    try:
        from glmmteach.datasets import vegetables
    except ImportError:
        pass
    else:
        return vegetables()
    path = TESTS_DIR / "data" / "r_vegetables.csv"
    if path.exists():
        d = pd.read_csv(path)
        return d[["id", "day", "trt", "sex", "y"]]
    return _vegetables_placeholder()


def _vegetables_newdata(data: pd.DataFrame) -> pd.DataFrame:
    ids = list(data["id"].drop_duplicates()[:3])
    unseen = int(data["id"].max()) + 1
    return pd.DataFrame(
        {
            "id": ids + [unseen] * 4,
            "trt": ["control", "treat", "treat", "control", "treat", "control", "treat"],
            "sex": ["female", "male", "female", "female", "female", "male", "male"],
        }
    )


# --------------------------------------------------------------------------------------------
# Simulated data
# --------------------------------------------------------------------------------------------


@_cached
def counts_data() -> pd.DataFrame:
    """50 groups x 8 rows of binomial counts, trials 1..15: cbind and weights cases."""
    rng = np.random.default_rng(1001)
    codes, g = _groups("g", 50, 8)
    n_rows = len(codes)
    x = rng.normal(size=n_rows)
    b = rng.normal(0.0, 0.9, size=50)
    n = rng.integers(1, 16, size=n_rows)
    s = rng.binomial(n, expit(-0.5 + 0.8 * x + b[codes]))
    return pd.DataFrame({"s": s, "f": n - s, "n": n, "prop": s / n, "x": x, "g": g})


@_cached
def boolean_data() -> pd.DataFrame:
    """60 groups x 10 rows, response as Python bools."""
    rng = np.random.default_rng(1002)
    codes, g = _groups("g", 60, 10)
    x = rng.normal(size=len(codes))
    b = rng.normal(0.0, 1.0, size=60)
    y = rng.random(len(codes)) < expit(0.3 - 0.7 * x + b[codes])
    return pd.DataFrame({"y": y.astype(bool), "x": x, "g": g})


@_cached
def string_response_data() -> pd.DataFrame:
    """60 groups x 10 rows, outcome "no"/"yes" as strings plus a reversed categorical copy."""
    rng = np.random.default_rng(1003)
    codes, g = _groups("school", 60, 10)
    x = rng.normal(size=len(codes))
    grp = rng.choice(["a", "b"], size=len(codes))
    b = rng.normal(0.0, 0.8, size=60)
    yes = rng.random(len(codes)) < expit(-0.2 + 0.6 * x + 0.5 * (grp == "b") + b[codes])
    outcome = np.where(yes, "yes", "no").astype(object)
    return pd.DataFrame(
        {
            "outcome": outcome,
            # Categories in the order ["yes", "no"]: R's first level, "yes", is the failure,
            # so this fit is the mirror image of the string one (every fixed effect negated).
            "outcome_rev": pd.Categorical(outcome, categories=["yes", "no"]),
            "x": x,
            "grp": grp.astype(object),
            "school": g,
        }
    )


@_cached
def zero_trials_data() -> pd.DataFrame:
    """30 groups x 10 rows of counts with 0..4 trials: about a fifth of the rows have none."""
    return _link_data(1020, "logit", (0.3, 0.5), 0.5, max_trials=4, n_groups=30,
                      per_group=10, min_trials=0)


@_cached
def overdispersed_data() -> pd.DataFrame:
    """15 herds x 4 periods of counts (5..25 trials) with extra observation-level noise."""
    rng = np.random.default_rng(1021)
    codes, herd = _groups("herd", 15, 4)
    n_rows = len(codes)
    period = np.tile(["p1", "p2", "p3", "p4"], 15).astype(object)
    eta = -1.4 + 0.4 * (period == "p2") - 0.5 * (period == "p4")
    eta = eta + rng.normal(0, 0.6, 15)[codes] + rng.normal(0, 0.5, n_rows)
    n = rng.integers(5, 26, size=n_rows)
    s = rng.binomial(n, expit(eta))
    return pd.DataFrame({"s": s, "f": n - s, "period": period, "herd": herd,
                         "obs": np.arange(n_rows).astype(str)})


def _link_data(
    seed: int, link: str, beta: tuple[float, float], sd: float, max_trials: int,
    n_groups: int = 60, per_group: int = 12, min_trials: int = 1,
) -> pd.DataFrame:
    """Counts (trials min_trials..max_trials) with a random intercept, on any link's scale."""
    rng = np.random.default_rng(seed)
    codes, g = _groups("g", n_groups, per_group)
    x = rng.normal(size=len(codes))
    b = rng.normal(0.0, sd, size=n_groups)
    n = rng.integers(min_trials, max_trials + 1, size=len(codes))
    s = rng.binomial(n, _inv_link(link, beta[0] + beta[1] * x + b[codes]))
    return pd.DataFrame({"s": s, "f": n - s, "n": n, "x": x, "g": g})


@_cached
def probit_data() -> pd.DataFrame:
    """60 groups x 12 rows of 0/1 data (column s) simulated on the probit scale."""
    return _link_data(1004, "probit", (0.2, 0.5), 0.6, max_trials=1)


@_cached
def cloglog_data() -> pd.DataFrame:
    """60 groups x 12 rows of counts (trials 1..8) simulated on the cloglog scale."""
    return _link_data(1005, "cloglog", (-1.0, 0.4), 0.5, max_trials=8)


def _slopes_data(
    seed: int, n_groups: int, per_group: int, beta: tuple[float, float], cov: np.ndarray
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes, g = _groups("g", n_groups, per_group)
    x = rng.normal(size=len(codes))
    b = rng.multivariate_normal(np.zeros(2), cov, size=n_groups)
    eta = beta[0] + b[codes, 0] + (beta[1] + b[codes, 1]) * x
    n = np.full(len(codes), 4)
    s = rng.binomial(n, expit(eta))
    return pd.DataFrame({"s": s, "f": n - s, "x": x, "g": g})


def _cov(sd0: float, sd1: float, rho: float) -> np.ndarray:
    return np.array([[sd0**2, rho * sd0 * sd1], [rho * sd0 * sd1, sd1**2]])


@_cached
def correlated_slopes_data() -> pd.DataFrame:
    """80 groups x 15 rows of 4 trials; intercept SD 1, slope SD 0.6, correlation 0.4."""
    return _slopes_data(1006, 80, 15, (-0.3, 0.7), _cov(1.0, 0.6, 0.4))


@_cached
def uncorrelated_slopes_data() -> pd.DataFrame:
    """80 groups x 15 rows of 4 trials; intercept SD 0.8, slope SD 0.5, independent."""
    return _slopes_data(1007, 80, 15, (0.2, -0.6), _cov(0.8, 0.5, 0.0))


@_cached
def slope_only_data() -> pd.DataFrame:
    """80 groups x 15 rows of 4 trials; no random intercept, slope SD 0.7."""
    return _slopes_data(1008, 80, 15, (-0.4, 0.5), _cov(0.0, 0.7, 0.0))


def _slopes_newdata(data: pd.DataFrame) -> pd.DataFrame:
    levels = list(data["g"].cat.categories[:2])
    return pd.DataFrame({"x": [-1.0, 0.5, 1.5, -0.5, 2.0], "g": levels + ["unseen"] * 3})


@_cached
def crossed_data() -> pd.DataFrame:
    """40 subjects x 25 items, each pair twice (0/1); subject SD 0.9, item SD 0.6."""
    rng = np.random.default_rng(1009)
    n_a, n_b, reps = 40, 25, 2
    a_codes = np.repeat(np.arange(n_a), n_b * reps)
    b_codes = np.tile(np.repeat(np.arange(n_b), reps), n_a)
    x = rng.normal(size=len(a_codes))
    u_a = rng.normal(0.0, 0.9, size=n_a)
    u_b = rng.normal(0.0, 0.6, size=n_b)
    y = rng.random(len(a_codes)) < expit(0.4 + 0.5 * x + u_a[a_codes] + u_b[b_codes])
    return pd.DataFrame(
        {
            "y": y.astype(np.int64),
            "x": x,
            "a": pd.Categorical.from_codes(a_codes, categories=_labels("s", n_a)),
            "b": pd.Categorical.from_codes(b_codes, categories=_labels("item", n_b)),
        }
    )


def _crossed_newdata(data: pd.DataFrame) -> pd.DataFrame:
    a = list(data["a"].cat.categories[:2])
    b = list(data["b"].cat.categories[:2])
    return pd.DataFrame(
        {"x": [0.0, 1.0, -1.0, 0.3], "a": a + ["s_new", a[0]], "b": b + [b[1], "item_new"]}
    )


@_cached
def nested_data() -> pd.DataFrame:
    """20 schools x 4 classes (labels c1..c4 reused in every school) x 15 pupils, 0/1.

    School SD 0.8, class-within-school SD 0.5. The class labels repeat across schools, so only
    ``a:b`` identifies a class: ``(1|a) + (1|b)`` would be a different (wrong) model.
    """
    rng = np.random.default_rng(1010)
    n_a, n_b, per = 20, 4, 15
    a_codes = np.repeat(np.arange(n_a), n_b * per)
    b_codes = np.tile(np.repeat(np.arange(n_b), per), n_a)
    x = rng.normal(size=len(a_codes))
    u_a = rng.normal(0.0, 0.8, size=n_a)
    u_ab = rng.normal(0.0, 0.5, size=n_a * n_b)
    eta = -0.2 + 0.6 * x + u_a[a_codes] + u_ab[a_codes * n_b + b_codes]
    n = np.full(len(a_codes), 2)
    s = rng.binomial(n, expit(eta))
    return pd.DataFrame(
        {
            "y": (s > 0).astype(np.int64),
            "s": s,
            "f": n - s,
            "x": x,
            "a": pd.Categorical.from_codes(a_codes, categories=_labels("school", n_a)),
            "b": pd.Categorical.from_codes(b_codes, categories=_labels("c", n_b)),
        }
    )


def _nested_newdata(data: pd.DataFrame) -> pd.DataFrame:
    a = list(data["a"].cat.categories[:2])
    return pd.DataFrame(
        {
            "x": [0.0, 1.0, -0.5, 0.5],
            # a seen class; a seen school with an unseen class; an unseen school (twice).
            "a": [a[0], a[1], "school_new", "school_new"],
            "b": ["c1", "c9", "c1", "c2"],
        }
    )


@_cached
def agq_counts_data() -> pd.DataFrame:
    """40 groups x 6 rows of counts (trials 1..12), SD 1.5: nAGQ = 5 differs from Laplace."""
    return _link_data(1011, "logit", (-0.6, 0.5), 1.5, max_trials=12, n_groups=40,
                      per_group=6)


@_cached
def agq_binary_data() -> pd.DataFrame:
    """60 groups x 8 rows of 0/1 data, SD 1.8."""
    rng = np.random.default_rng(1012)
    codes, g = _groups("g", 60, 8)
    x = rng.normal(size=len(codes))
    b = rng.normal(0.0, 1.8, size=60)
    y = rng.random(len(codes)) < expit(0.3 + 0.8 * x + b[codes])
    return pd.DataFrame({"y": y.astype(np.int64), "x": x, "g": g})


@_cached
def singular_data() -> pd.DataFrame:
    """8 groups x 6 rows of 0/1 data with NO group effect (true SD 0): lme4 estimates SD 0."""
    rng = np.random.default_rng(1013)
    codes, g = _groups("g", 8, 6)
    x = rng.normal(size=len(codes))
    y = rng.random(len(codes)) < expit(0.2 + 0.6 * x)
    return pd.DataFrame({"y": y.astype(np.int64), "x": x, "g": g})


@_cached
def terms_data() -> pd.DataFrame:
    """50 groups x 16 rows: x (quadratic), a 3-level factor f3 interacting with numeric z.

    A second response y2 depends on f3, x (linearly) and a numeric dose in {1, 2, 10}
    treated as a factor.

    f3 is a Categorical with categories in non-alphabetical order ("low", "medium", "high"),
    so a fitter that sorts levels would name (and code) the columns differently.
    """
    rng = np.random.default_rng(1014)
    codes, g = _groups("g", 50, 16)
    m = len(codes)
    x = rng.uniform(-2.0, 2.0, size=m)
    z = rng.normal(size=m)
    f3 = rng.choice(["low", "medium", "high"], size=m)
    b = rng.normal(0.0, 0.7, size=50)
    eta = (
        -0.4
        + 0.5 * x
        - 0.3 * x**2
        + 0.6 * (f3 == "medium")
        + 1.0 * (f3 == "high")
        + 0.4 * z
        - 0.5 * (f3 == "medium") * z
        + 0.3 * (f3 == "high") * z
        + b[codes]
    )
    # Used only by factor_wrappers (y2), where x enters linearly and dose as a factor.
    dose = rng.choice([1, 2, 10], size=m)
    eta2 = (
        -0.4
        + 0.6 * (f3 == "medium")
        + 1.0 * (f3 == "high")
        + 0.3 * (dose == 2)
        + 0.8 * (dose == 10)
        + 0.5 * x
        + b[codes]
    )
    y2 = rng.random(m) < expit(eta2)
    y = rng.random(m) < expit(eta)
    return pd.DataFrame(
        {
            "y": y.astype(np.int64),
            "y2": y2.astype(np.int64),
            "x": x,
            "z": z,
            "dose": dose.astype(float),
            "f3": pd.Categorical(f3, categories=["low", "medium", "high"]),
            "g": g,
        }
    )


def _terms_newdata(data: pd.DataFrame) -> pd.DataFrame:
    g = list(data["g"].cat.categories[:3])
    return pd.DataFrame(
        {
            "x": [-1.5, 0.0, 1.0, 1.8],
            "z": [0.5, -1.0, 0.0, 1.2],
            "f3": pd.Categorical(
                ["high", "low", "medium", "high"], categories=["low", "medium", "high"]
            ),
            "g": g + ["g_new"],
        }
    )


@_cached
def nagq0_data() -> pd.DataFrame:
    """50 groups x 12 rows of 0/1 data with a two-level factor."""
    rng = np.random.default_rng(1015)
    codes, g = _groups("g", 50, 12)
    x = rng.normal(size=len(codes))
    f2 = rng.choice(["ctl", "trt"], size=len(codes)).astype(object)
    b = rng.normal(0.0, 0.9, size=50)
    y = rng.random(len(codes)) < expit(-0.3 + 0.6 * x + 0.8 * (f2 == "trt") + b[codes])
    return pd.DataFrame({"y": y.astype(np.int64), "x": x, "f2": f2, "g": g})


@_cached
def three_terms_data() -> pd.DataFrame:
    """200 subjects x 18 items (6 per btype), 0/1: subject, item and subject:btype effects.

    SDs 1.0 (subject), 0.5 (item), 0.7 (subject within btype): VerbAgg's
    ``(1|id) + (1|item) + (1|id:btype)`` shape, smaller.
    """
    rng = np.random.default_rng(1016)
    n_id, n_item = 200, 18
    id_codes = np.repeat(np.arange(n_id), n_item)
    item_codes = np.tile(np.arange(n_item), n_id)
    bt = item_codes % 3
    anger = rng.normal(size=n_id)
    u_id = rng.normal(0.0, 1.0, n_id)
    u_item = rng.normal(0.0, 0.5, n_item)
    u_idbt = rng.normal(0.0, 0.7, (n_id, 3))
    eta = (-0.3 + 0.5 * anger[id_codes] - 0.8 * (bt == 1) - 1.4 * (bt == 2)
           + u_id[id_codes] + u_item[item_codes] + u_idbt[id_codes, bt])
    y = rng.random(len(eta)) < expit(eta)
    return pd.DataFrame({
        "y": y.astype(np.int64),
        "anger": anger[id_codes],
        "btype": pd.Categorical(np.array(["curse", "scold", "shout"])[bt],
                                categories=["curse", "scold", "shout"]),
        "id": pd.Categorical.from_codes(id_codes, categories=_labels("s", n_id)),
        "item": pd.Categorical.from_codes(item_codes, categories=_labels("i", n_item)),
    })


@_cached
def large_nested_data() -> pd.DataFrame:
    """6,000 pupils in 900 schools in 60 districts (school labels reused); SDs 0.6 and 0.8."""
    rng = np.random.default_rng(1017)
    n_d, n_s, n = 60, 900, 6000
    school_district = np.repeat(np.arange(n_d), n_s // n_d)
    row_school = np.sort(np.concatenate([np.arange(n_s), rng.integers(0, n_s, n - n_s)]))
    row_district = school_district[row_school]
    local = row_school - (n_s // n_d) * row_district
    x = rng.normal(size=n)
    eta = (-0.4 + 0.5 * x + rng.normal(0.0, 0.6, n_d)[row_district]
           + rng.normal(0.0, 0.8, n_s)[row_school])
    y = rng.random(n) < expit(eta)
    return pd.DataFrame({
        "y": y.astype(np.int64),
        "x": x,
        "district": pd.Categorical.from_codes(row_district, categories=_labels("d", n_d)),
        "school": pd.Categorical.from_codes(local, categories=_labels("sch", n_s // n_d)),
    })


@_cached
def many_levels_data() -> pd.DataFrame:
    """1,934 rows in 102 groups with a 24-level fixed factor f24 (unequal level sizes)."""
    rng = np.random.default_rng(1018)
    n, n_g = 1934, 102
    g = np.sort(np.concatenate([np.arange(n_g), rng.integers(0, n_g, n - n_g)]))
    age = rng.normal(size=n)
    p24 = np.linspace(1.0, 3.0, 24)
    f24 = rng.choice(24, size=n, p=p24 / p24.sum())
    eff = rng.normal(0.0, 0.4, 24)
    eff[0] = 0.0
    eta = -0.6 + 0.3 * age + eff[f24] + rng.normal(0.0, 0.5, n_g)[g]
    y = rng.random(n) < expit(eta)
    return pd.DataFrame({
        "y": y.astype(np.int64),
        "age": age,
        "f24": pd.Categorical.from_codes(f24, categories=_labels("k", 24)),
        "g": pd.Categorical.from_codes(g, categories=_labels("g", n_g)),
    })


@_cached
def agq_many_groups_data() -> pd.DataFrame:
    """1,200 groups x 5 rows of 0/1 data, SD 1.5: adaptive quadrature on > 1,000 groups."""
    rng = np.random.default_rng(1019)
    codes, g = _groups("g", 1200, 5)
    x = rng.normal(size=len(codes))
    b = rng.normal(0.0, 1.5, size=1200)
    y = rng.random(len(codes)) < expit(-0.2 + 0.8 * x + b[codes])
    return pd.DataFrame({"y": y.astype(np.int64), "x": x, "g": g})


@_cached
def cauchit_data() -> pd.DataFrame:
    """60 groups x 12 rows of counts (trials 1..6) simulated on the cauchit scale."""
    return _link_data(1022, "cauchit", (0.3, 0.7), 0.6, max_trials=6)


@_cached
def offset_data() -> pd.DataFrame:
    """Counts with two known offsets: o1 (used as offset() in the formula) and o2 (offset=).

    40 groups x 10 rows, trials 2..10; eta = -0.5 + 0.6 x + o1 + o2 + b, SD 0.7.
    """
    rng = np.random.default_rng(1023)
    codes, g = _groups("g", 40, 10)
    m = len(codes)
    x = rng.normal(size=m)
    o1 = rng.normal(0.0, 0.5, m)
    o2 = np.log(rng.uniform(0.5, 2.0, m))
    n = rng.integers(2, 11, size=m)
    s = rng.binomial(n, expit(-0.5 + 0.6 * x + o1 + o2 + rng.normal(0.0, 0.7, 40)[codes]))
    return pd.DataFrame({"s": s, "f": n - s, "x": x, "o1": o1, "o2": o2, "g": g})


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

CASES: tuple[CrossCheckCase, ...] = (
    CrossCheckCase(
        name="vegetables_article",
        make_data=vegetables_data,
        formula="y ~ trt * sex + (1 | id)",
        truth={"note": "the article simulates on the probability scale; lme4: SD 0.1986"},
        make_newdata=_vegetables_newdata,
        description="[1] the article's model on its data",
    ),
    CrossCheckCase(
        name="cbind_counts",
        make_data=counts_data,
        formula="cbind(s, f) ~ x + (1 | g)",
        truth={"fixef": {"(Intercept)": -0.5, "x": 0.8}, "sd": {"g": 0.9}},
        description="[2] cbind(successes, failures) response",
    ),
    CrossCheckCase(
        name="proportion_weights",
        make_data=counts_data,
        formula="prop ~ x + (1 | g)",
        weights="n",
        truth={"fixef": {"(Intercept)": -0.5, "x": 0.8}, "sd": {"g": 0.9}},
        description="[3] the cbind_counts data as a proportion with weights = trials",
    ),
    CrossCheckCase(
        name="zero_trial_rows",
        make_data=zero_trials_data,
        formula="cbind(s, f) ~ x + (1 | g)",
        truth={"fixef": {"(Intercept)": 0.3, "x": 0.5}, "sd": {"g": 0.5}},
        description="[2] counts where some rows have no trials at all (they carry no "
        "information but must not break the fit; lme4 keeps them in nobs)",
    ),
    CrossCheckCase(
        name="observation_level_effect",
        make_data=overdispersed_data,
        formula="cbind(s, f) ~ period + (1 | herd) + (1 | obs)",
        truth={"sd": {"herd": 0.6, "obs": 0.5}},
        description="[11] an observation-level random effect for overdispersed counts "
        "(one level per row is identifiable with counts, not with 0/1 data)",
    ),
    CrossCheckCase(
        name="boolean_response",
        make_data=boolean_data,
        formula="y ~ x + (1 | g)",
        truth={"fixef": {"(Intercept)": 0.3, "x": -0.7}, "sd": {"g": 1.0}},
        description="[4] bool response",
    ),
    CrossCheckCase(
        name="string_response",
        make_data=string_response_data,
        formula="outcome ~ x + grp + (1 | school)",
        truth={"fixef": {"(Intercept)": -0.2, "x": 0.6, "grpb": 0.5}, "sd": {"school": 0.8}},
        description="[5] two-level string response (levels sorted: 'no' = failure) and a "
        "string predictor",
    ),
    CrossCheckCase(
        name="categorical_response_reversed",
        make_data=string_response_data,
        formula="outcome_rev ~ x + grp + (1 | school)",
        truth={"fixef": {"(Intercept)": 0.2, "x": -0.6, "grpb": -0.5}, "sd": {"school": 0.8}},
        description="[5] Categorical response whose first category is 'yes': success = 'no'",
    ),
    CrossCheckCase(
        name="probit_link",
        make_data=probit_data,
        formula="s ~ x + (1 | g)",
        link="probit",
        truth={"fixef": {"(Intercept)": 0.2, "x": 0.5}, "sd": {"g": 0.6}},
        description="[6] probit link, 0/1 response",
    ),
    CrossCheckCase(
        name="cloglog_link",
        make_data=cloglog_data,
        formula="cbind(s, n - s) ~ x + (1 | g)",
        link="cloglog",
        truth={"fixef": {"(Intercept)": -1.0, "x": 0.4}, "sd": {"g": 0.5}},
        description="[7] cloglog link; cbind with an expression (n - s)",
    ),
    CrossCheckCase(
        name="correlated_slopes",
        make_data=correlated_slopes_data,
        formula="cbind(s, f) ~ x + (1 + x | g)",
        truth={
            "fixef": {"(Intercept)": -0.3, "x": 0.7},
            "sd": {"(Intercept)": 1.0, "x": 0.6},
            "cor": 0.4,
        },
        make_newdata=_slopes_newdata,
        description="[8] correlated random intercept and slope",
    ),
    CrossCheckCase(
        name="uncorrelated_slopes",
        make_data=uncorrelated_slopes_data,
        formula="cbind(s, f) ~ x + (1 + x || g)",
        truth={"fixef": {"(Intercept)": 0.2, "x": -0.6}, "sd": {"(Intercept)": 0.8, "x": 0.5}},
        description="[9] uncorrelated intercept and slope with ||",
    ),
    CrossCheckCase(
        name="intercept_plus_slope_terms",
        make_data=uncorrelated_slopes_data,
        formula="cbind(s, f) ~ x + (1 | g) + (0 + x | g)",
        truth={"fixef": {"(Intercept)": 0.2, "x": -0.6}, "sd": {"(Intercept)": 0.8, "x": 0.5}},
        description="[10] (1|g) + (0 + x|g), written out: the same model as [9]",
    ),
    CrossCheckCase(
        name="random_slope_only",
        make_data=slope_only_data,
        formula="cbind(s, f) ~ x + (0 + x | g)",
        truth={"fixef": {"(Intercept)": -0.4, "x": 0.5}, "sd": {"x": 0.7}},
        make_newdata=_slopes_newdata,
        description="[10] random slope without a random intercept",
    ),
    CrossCheckCase(
        name="crossed",
        make_data=crossed_data,
        formula="y ~ x + (1 | a) + (1 | b)",
        truth={"fixef": {"(Intercept)": 0.4, "x": 0.5}, "sd": {"a": 0.9, "b": 0.6}},
        make_newdata=_crossed_newdata,
        description="[11] crossed random intercepts",
    ),
    CrossCheckCase(
        name="nested_slash",
        make_data=nested_data,
        formula="cbind(s, f) ~ x + (1 | a/b)",
        truth={"fixef": {"(Intercept)": -0.2, "x": 0.6}, "sd": {"b:a": 0.5, "a": 0.8}},
        make_newdata=_nested_newdata,
        description="[12] nested (1|a/b) = (1|b:a) + (1|a), class labels reused across schools",
    ),
    CrossCheckCase(
        name="nested_colon",
        make_data=nested_data,
        formula="cbind(s, f) ~ x + (1 | a) + (1 | a:b)",
        truth={"fixef": {"(Intercept)": -0.2, "x": 0.6}, "sd": {"a:b": 0.5, "a": 0.8}},
        description="[12] the same model as nested_slash written with a:b",
    ),
    CrossCheckCase(
        name="agq5_counts",
        make_data=agq_counts_data,
        formula="cbind(s, f) ~ x + (1 | g)",
        nAGQ=5,
        truth={"fixef": {"(Intercept)": -0.6, "x": 0.5}, "sd": {"g": 1.5}},
        description="[13] nAGQ = 5 on counts (lme4's logLik omits the saturated logLik)",
    ),
    CrossCheckCase(
        name="agq25_binary",
        make_data=agq_binary_data,
        formula="y ~ x + (1 | g)",
        nAGQ=25,
        truth={"fixef": {"(Intercept)": 0.3, "x": 0.8}, "sd": {"g": 1.8}},
        description="[13] nAGQ = 25 on 0/1 data",
    ),
    CrossCheckCase(
        name="singular_fit",
        make_data=singular_data,
        formula="y ~ x + (1 | g)",
        truth={"fixef": {"(Intercept)": 0.2, "x": 0.6}, "sd": {"g": 0.0}},
        expect_singular=True,
        description="[14] true SD 0 in 8 small groups: the estimate sits at 0",
    ),
    CrossCheckCase(
        name="poly_factor_interaction",
        make_data=terms_data,
        formula="y ~ x + I(x^2) + f3 * z + (1 | g)",
        truth={
            "fixef": {
                "(Intercept)": -0.4,
                "x": 0.5,
                "I(x^2)": -0.3,
                "f3medium": 0.6,
                "f3high": 1.0,
                "z": 0.4,
                "f3medium:z": -0.5,
                "f3high:z": 0.3,
            },
            "sd": {"g": 0.7},
        },
        make_newdata=_terms_newdata,
        description="[15] I(x^2), a 3-level Categorical (non-alphabetical order) times numeric",
    ),
    CrossCheckCase(
        name="factor_wrappers",
        make_data=terms_data,
        formula="y2 ~ C(f3) + factor(dose) + x + (1 | g)",
        truth={
            "fixef": {
                "(Intercept)": -0.4,
                "C(f3)medium": 0.6,
                "C(f3)high": 1.0,
                "factor(dose)2": 0.3,
                "factor(dose)10": 0.8,
                "x": 0.5,
            },
            "sd": {"g": 0.7},
        },
        description="[15] C() on a Categorical and factor() on a number (levels 1, 2, 10 in "
        "numeric order, not string order)",
    ),
    CrossCheckCase(
        name="nagq0",
        make_data=nagq0_data,
        formula="y ~ x + f2 + (1 | g)",
        nAGQ=0,
        truth={"fixef": {"(Intercept)": -0.3, "x": 0.6, "f2trt": 0.8}, "sd": {"g": 0.9}},
        description="[16] nAGQ = 0: beta from PIRLS, theta alone optimized",
    ),
    CrossCheckCase(
        name="three_terms",
        make_data=three_terms_data,
        formula="y ~ anger + btype + (1 | id) + (1 | item) + (1 | id:btype)",
        truth={"fixef": {"anger": 0.5, "btypescold": -0.8, "btypeshout": -1.4},
               "sd": {"id": 1.0, "item": 0.5, "id:btype": 0.7}},
        tight_reference=True,
        description="[17] three terms, crossed and nested: VerbAgg's (1|id) + (1|item) + "
        "(1|id:btype) shape",
    ),
    CrossCheckCase(
        name="large_nested",
        make_data=large_nested_data,
        formula="y ~ x + (1 | district/school)",
        truth={"fixef": {"(Intercept)": -0.4, "x": 0.5},
               "sd": {"school:district": 0.8, "district": 0.6}},
        tight_reference=True,
        description="[17] a large two-level nested design: 900 schools in 60 districts",
    ),
    CrossCheckCase(
        name="nagq0_many_levels",
        make_data=many_levels_data,
        formula="y ~ age + f24 + (1 | g)",
        nAGQ=0,
        truth={"fixef": {"age": 0.3}, "sd": {"g": 0.5}},
        tight_reference=True,
        description="[17] nAGQ = 0 with a 24-level fixed factor (25 fixed effects)",
    ),
    CrossCheckCase(
        name="agq_many_groups",
        make_data=agq_many_groups_data,
        formula="y ~ x + (1 | g)",
        nAGQ=9,
        truth={"fixef": {"(Intercept)": -0.2, "x": 0.8}, "sd": {"g": 1.5}},
        tight_reference=True,
        description="[17] adaptive quadrature (nAGQ = 9) on 1,200 groups",
    ),
    CrossCheckCase(
        name="cauchit_link",
        make_data=cauchit_data,
        formula="cbind(s, f) ~ x + (1 | g)",
        link="cauchit",
        truth={"fixef": {"(Intercept)": 0.3, "x": 0.7}, "sd": {"g": 0.6}},
        description="[18] the cauchit link",
    ),
    CrossCheckCase(
        name="offset_argument",
        make_data=offset_data,
        formula="cbind(s, f) ~ x + offset(o1) + (1 | g)",
        offset="o2",
        lme4_offset="o2",
        truth={"fixef": {"(Intercept)": -0.5, "x": 0.6}, "sd": {"g": 0.7}},
        description="[18] offset= beside offset() in the formula; lme4 gets offset = o2 too "
        "(the two are added)",
    ),
    CrossCheckCase(
        name="start_values",
        make_data=crossed_data,
        formula="y ~ x + (1 | a) + (1 | b)",
        start={"theta": [0.3, 1.5], "fixef": [0.0, 0.0]},
        lme4_start="list(theta = c(0.3, 1.5), fixef = c(0, 0))",
        truth={"fixef": {"(Intercept)": 0.4, "x": 0.5}, "sd": {"a": 0.9, "b": 0.6}},
        description="[18] start= with theta and fixef, as lme4's start = list(...)",
    ),
    CrossCheckCase(
        name="control_bobyqa",
        make_data=correlated_slopes_data,
        formula="cbind(s, f) ~ x + (1 + x | g)",
        control={"optimizer": "bobyqa", "tolPwrss": 1e-12,
                 "check.conv.singular": "ignore"},
        lme4_control='glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, '
        'check.conv.singular = "ignore")',
        truth={"fixef": {"(Intercept)": -0.3, "x": 0.7}, "sd": {"(Intercept)": 1.0, "x": 0.6},
               "cor": 0.4},
        description="[18] control= in lme4's spelling: derivative-free optimizer, tight "
        "tolerance",
    ),
)

CASES_BY_NAME: dict[str, CrossCheckCase] = {case.name: case for case in CASES}

#: Pairs of cases that are the same model on the same data: both fitters must give the same
#: fit for both members (the grouping names may differ: "b:a" against "a:b").
SAME_FIT_PAIRS: tuple[tuple[str, str], ...] = (
    ("cbind_counts", "proportion_weights"),
    ("uncorrelated_slopes", "intercept_plus_slope_terms"),
    ("nested_slash", "nested_colon"),
)

#: Pairs whose fits mirror each other: the same data with the response's levels swapped.
MIRROR_PAIRS: tuple[tuple[str, str], ...] = (("string_response", "categorical_response_reversed"),)

if len(CASES_BY_NAME) != len(CASES):
    raise RuntimeError("duplicate cross-check case names")
