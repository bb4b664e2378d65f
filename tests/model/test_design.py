"""Tests of glmmteach.design: model matrices and random-effect terms against R/lme4, response
forms, missing values, bad input and the prediction helpers.

Reference values: ``tools/r_design_reference.R`` (R 4.2.2, lme4 1.1-31) prints R_MODEL_MATRIX
(``model.matrix`` column names, ``colSums(mm)``, ``colSums(mm * 1:n)`` and the columns that
``qr(mm, tol = 1e-7, LAPACK = FALSE)`` pivots out, i.e. what lme4 drops) and R_RANDOM
(``glFormula(...)$reTrms``: grouping-factor names in term order, ``cnms``, ``levels(flist)``)
for the deterministic data set rebuilt by :func:`reference_data`. Other R evidence is quoted
next to the test that uses it.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from glmmteach.model.design import Design, RandomTerm, build_design, r_level_order
from glmmteach.model.factors import contr_poly
from glmmteach.model.formula import parse_formula
from glmmteach.warnings import RankDeficientWarning, RowsDroppedWarning


def reference_data() -> pd.DataFrame:
    """The data set of tools/r_design_reference.R (24 rows, no random numbers)."""
    n = 24
    i = np.arange(n)
    return pd.DataFrame(
        {
            "x": (i % 7) - 3 + i / 10,
            "z": ((i * 5) % 11) / 3 + 1,
            "trt": np.array(["control", "treat"])[i % 2],
            "sex": np.array(["female", "male"])[(i // 2) % 2],
            "f3": np.array(["lo", "mid", "hi"])[i % 3],
            "lg": (i % 4) < 2,
            "c3": pd.Categorical(
                np.array(["z", "y", "x"])[(i // 3) % 3], categories=["z", "y", "x"]
            ),
            "num": np.array([10.0, 2.0, 33.0])[(i // 4) % 3],
            "o": pd.Categorical(
                np.array(["lo", "mid", "hi"])[(i // 2) % 3], categories=["lo", "mid", "hi"],
                ordered=True,
            ),
            "cs": np.array(["b", "B", "a", "A"])[i % 4],
            "a": np.array(["p", "q"])[(i // 3) % 2],
            "b": np.array(["u", "v", "w"])[(i // 5) % 3],
            "g5": [f"g{k}" for k in (i % 5) + 1],
            "g12": [f"h{k:02d}" for k in (i % 12) + 1],
            "y": np.array([0, 1, 1, 0, 1, 0, 0, 1])[i % 8],
        }
    )  # fmt: skip


R_MODEL_MATRIX = {
    "y ~ trt * sex": (
        ["(Intercept)", "trttreat", "sexmale", "trttreat:sexmale"],
        [24, 12, 12, 6],
        [300, 156, 162, 84],
        [],
    ),
    "y ~ trt + trt:x": (
        ["(Intercept)", "trttreat", "trtcontrol:x", "trttreat:x"],
        [24, 12, 11.2, 10.4],
        [300, 156, 217.6, 190.4],
        [],
    ),
    "y ~ 0 + trt": (
        ["trtcontrol", "trttreat"],
        [12, 12],
        [144, 156],
        [],
    ),
    "y ~ trt:x": (
        ["(Intercept)", "trtcontrol:x", "trttreat:x"],
        [24, 11.2, 10.4],
        [300, 217.6, 190.4],
        [],
    ),
    "y ~ x:trt": (
        ["(Intercept)", "x:trtcontrol", "x:trttreat"],
        [24, 11.2, 10.4],
        [300, 217.6, 190.4],
        [],
    ),
    "y ~ trt:sex": (
        [
            "(Intercept)", "trtcontrol:sexfemale", "trttreat:sexfemale", "trtcontrol:sexmale",
            "trttreat:sexmale",
        ],
        [24, 6, 6, 6, 6],
        [300, 66, 72, 78, 84],
        ["trttreat:sexmale"],
    ),
    "y ~ x * z": (
        ["(Intercept)", "x", "z", "x:z"],
        [24, 21.6, 62.333333333333336, 64.26666666666667],
        [300, 408, 761.6666666666666, 1053.3333333333335],
        [],
    ),
    "y ~ f3": (
        ["(Intercept)", "f3lo", "f3mid"],
        [24, 8, 8],
        [300, 92, 100],
        [],
    ),
    "y ~ c3": (
        ["(Intercept)", "c3y", "c3x"],
        [24, 9, 6],
        [300, 126, 75],
        [],
    ),
    "y ~ lg": (
        ["(Intercept)", "lgTRUE"],
        [24, 12],
        [300, 138],
        [],
    ),
    "y ~ I(x^2) + x": (
        ["(Intercept)", "I(x^2)", "x"],
        [24, 132.04, 21.6],
        [300, 1805.8, 408],
        [],
    ),
    "y ~ (trt + sex + x)^2": (
        ["(Intercept)", "trttreat", "sexmale", "x", "trttreat:sexmale", "trttreat:x", "sexmale:x"],
        [24, 12, 12, 21.6, 6, 10.4, 10],
        [300, 156, 162, 408, 84, 190.4, 176.8],
        [],
    ),
    "y ~ trt * sex - trt:sex": (
        ["(Intercept)", "trttreat", "sexmale"],
        [24, 12, 12],
        [300, 156, 162],
        [],
    ),
    "y ~ x + offset(z)": (
        ["(Intercept)", "x"],
        [24, 21.6],
        [300, 408],
        [],
    ),
    "y ~ C(c3)": (
        ["(Intercept)", "C(c3)y", "C(c3)x"],
        [24, 9, 6],
        [300, 126, 75],
        [],
    ),
    "y ~ trt * x - 1": (
        ["trtcontrol", "trttreat", "x", "trttreat:x"],
        [12, 12, 21.6, 10.4],
        [144, 156, 408, 190.4],
        [],
    ),
    "y ~ trt + x:trt:sex": (
        [
            "(Intercept)", "trttreat", "trtcontrol:x:sexfemale", "trttreat:x:sexfemale",
            "trtcontrol:x:sexmale", "trttreat:x:sexmale",
        ],
        [24, 12, 6, 5.6, 5.2, 4.8],
        [300, 156, 150, 81.2, 67.6, 109.2],
        [],
    ),
    "y ~ 0 + x + trt": (
        ["x", "trtcontrol", "trttreat"],
        [21.6, 12, 12],
        [408, 144, 156],
        [],
    ),
    "y ~ 0 + x:trt": (
        ["x:trtcontrol", "x:trttreat"],
        [11.2, 10.4],
        [217.6, 190.4],
        [],
    ),
    "y ~ 0 + trt:sex": (
        ["trtcontrol:sexfemale", "trttreat:sexfemale", "trtcontrol:sexmale", "trttreat:sexmale"],
        [6, 6, 6, 6],
        [66, 72, 78, 84],
        [],
    ),
    "y ~ 0 + trt + sex": (
        ["trtcontrol", "trttreat", "sexmale"],
        [12, 12, 12],
        [144, 156, 162],
        [],
    ),
    "y ~ -1 + x + trt * sex": (
        ["x", "trtcontrol", "trttreat", "sexmale", "trttreat:sexmale"],
        [21.6, 12, 12, 12, 6],
        [408, 144, 156, 162, 84],
        [],
    ),
    "y ~ x + x:trt": (
        ["(Intercept)", "x", "x:trttreat"],
        [24, 21.6, 10.4],
        [300, 408, 190.4],
        [],
    ),
    "y ~ sex:trt + trt": (
        ["(Intercept)", "trttreat", "sexmale:trtcontrol", "sexmale:trttreat"],
        [24, 12, 6, 6],
        [300, 156, 78, 84],
        [],
    ),
    "y ~ f3 * trt": (
        ["(Intercept)", "f3lo", "f3mid", "trttreat", "f3lo:trttreat", "f3mid:trttreat"],
        [24, 8, 8, 12, 4, 4],
        [300, 92, 100, 156, 52, 44],
        [],
    ),
    "y ~ trt/x": (
        ["(Intercept)", "trttreat", "trtcontrol:x", "trttreat:x"],
        [24, 12, 11.2, 10.4],
        [300, 156, 217.6, 190.4],
        [],
    ),
    "y ~ trt/f3": (
        [
            "(Intercept)", "trttreat", "trtcontrol:f3lo", "trttreat:f3lo", "trtcontrol:f3mid",
            "trttreat:f3mid",
        ],
        [24, 12, 4, 4, 4, 4],
        [300, 156, 40, 52, 56, 44],
        [],
    ),
    "y ~ 0 + f3:trt": (
        [
            "f3hi:trtcontrol", "f3lo:trtcontrol", "f3mid:trtcontrol", "f3hi:trttreat",
            "f3lo:trttreat", "f3mid:trttreat",
        ],
        [4, 4, 4, 4, 4, 4],
        [48, 40, 56, 60, 52, 44],
        [],
    ),
    "y ~ 0 + f3 + f3:trt": (
        ["f3hi", "f3lo", "f3mid", "f3hi:trttreat", "f3lo:trttreat", "f3mid:trttreat"],
        [8, 8, 8, 4, 4, 4],
        [108, 92, 100, 60, 52, 44],
        [],
    ),
    "y ~ x:z + trt": (
        ["(Intercept)", "trttreat", "x:z"],
        [24, 12, 64.26666666666667],
        [300, 156, 1053.3333333333335],
        [],
    ),
    "y ~ I(x*2) + I(x**2) + I(x-1) + I(-x) + I(x/2+ z)": (
        ["(Intercept)", "I(x * 2)", "I(x^2)", "I(x - 1)", "I(-x)", "I(x/2 + z)"],
        [24, 43.2, 132.04, -2.4000000000000004, -21.6, 73.13333333333334],
        [300, 816, 1805.8, 108, -408, 965.6666666666666],
        ["I(x - 1)", "I(-x)"],
    ),
    "y ~ log(z) + exp(x/4)": (
        ["(Intercept)", "log(z)", "exp(x/4)"],
        [24, 20.529392247440267, 34.77995667400406],
        [300, 250.69522466314214, 480.2934574063569],
        [],
    ),
    "y ~ sex + trt:sex:f3": (
        [
            "(Intercept)", "sexmale", "sexfemale:trtcontrol:f3hi", "sexmale:trtcontrol:f3hi",
            "sexfemale:trttreat:f3hi", "sexmale:trttreat:f3hi", "sexfemale:trtcontrol:f3lo",
            "sexmale:trtcontrol:f3lo", "sexfemale:trttreat:f3lo", "sexmale:trttreat:f3lo",
            "sexfemale:trtcontrol:f3mid", "sexmale:trtcontrol:f3mid", "sexfemale:trttreat:f3mid",
            "sexmale:trttreat:f3mid",
        ],
        [24, 12, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        [300, 162, 30, 18, 24, 36, 14, 26, 32, 20, 22, 34, 16, 28],
        ["sexfemale:trttreat:f3mid", "sexmale:trttreat:f3mid"],
    ),
    "y ~ trt * sex * f3 - trt:sex:f3": (
        [
            "(Intercept)", "trttreat", "sexmale", "f3lo", "f3mid", "trttreat:sexmale",
            "trttreat:f3lo", "trttreat:f3mid", "sexmale:f3lo", "sexmale:f3mid",
        ],
        [24, 12, 12, 8, 8, 6, 4, 4, 4, 4],
        [300, 156, 162, 92, 100, 84, 52, 44, 46, 62],
        [],
    ),
    "y ~ 1": (
        ["(Intercept)"],
        [24],
        [300],
        [],
    ),
    "y ~ factor(num)": (
        ["(Intercept)", "factor(num)10", "factor(num)33"],
        [24, 8, 8],
        [300, 68, 132],
        [],
    ),
    "y ~ trt:f3 + trt:sex": (
        [
            "(Intercept)", "trtcontrol:f3hi", "trttreat:f3hi", "trtcontrol:f3lo", "trttreat:f3lo",
            "trtcontrol:f3mid", "trttreat:f3mid", "trtcontrol:sexmale", "trttreat:sexmale",
        ],
        [24, 4, 4, 4, 4, 4, 4, 6, 6],
        [300, 48, 60, 40, 52, 56, 44, 78, 84],
        ["trttreat:f3mid"],
    ),
    "y ~ 0 + x + x:trt": (
        ["x", "x:trtcontrol", "x:trttreat"],
        [21.6, 11.2, 10.4],
        [408, 217.6, 190.4],
        ["x:trttreat"],
    ),
    "y ~ x:z + trt:x": (
        ["(Intercept)", "x:z", "x:trttreat"],
        [24, 64.26666666666667, 10.4],
        [300, 1053.3333333333335, 190.4],
        [],
    ),
    "y ~ 0 + trt:sex + sex:f3": (
        [
            "trtcontrol:sexfemale", "trttreat:sexfemale", "trtcontrol:sexmale", "trttreat:sexmale",
            "sexfemale:f3lo", "sexmale:f3lo", "sexfemale:f3mid", "sexmale:f3mid",
        ],
        [6, 6, 6, 6, 4, 4, 4, 4],
        [66, 72, 78, 84, 46, 46, 38, 62],
        [],
    ),
    "y ~ 0 + sex:x + trt:sex": (
        ["sexfemale:x", "sexmale:x", "sexfemale:trttreat", "sexmale:trttreat"],
        [11.6, 10, 6, 6],
        [231.2, 176.8, 72, 84],
        [],
    ),
    "y ~ x %in% trt": (
        ["(Intercept)", "x:trtcontrol", "x:trttreat"],
        [24, 11.2, 10.4],
        [300, 217.6, 190.4],
        [],
    ),
    "y ~ (trt + sex)/x": (
        [
            "(Intercept)", "trttreat", "sexmale", "trtcontrol:sexfemale:x", "trttreat:sexfemale:x",
            "trtcontrol:sexmale:x", "trttreat:sexmale:x",
        ],
        [24, 12, 12, 6, 5.6, 5.2, 4.8],
        [300, 156, 162, 150, 81.2, 67.6, 109.2],
        [],
    ),
    "y ~ o": (
        ["(Intercept)", "o.L", "o.Q"],
        [24, -1.5161483180037294e-15, 8.881784197001252e-16],
        [300, 22.627416997969505, 6.050715484207103e-15],
        [],
    ),
    "y ~ 0 + o": (
        ["olo", "omid", "ohi"],
        [8, 8, 8],
        [84, 100, 116],
        [],
    ),
    "y ~ o:x": (
        ["(Intercept)", "olo:x", "omid:x", "ohi:x"],
        [24, 10.6, 0.2, 10.8],
        [300, 233, 40.2, 134.8],
        [],
    ),
    "y ~ cs": (
        ["(Intercept)", "csA", "csb", "csB"],
        [24, 6, 6, 6],
        [300, 84, 66, 72],
        [],
    ),
    "y ~ I(x > 0) + sqrt(z)": (
        ["(Intercept)", "I(x > 0)TRUE", "sqrt(z)"],
        [24, 15, 37.78247280964303],
        [300, 214, 467.2530593746345],
        [],
    ),
    "y ~ (trt + x) * (sex + z)": (
        [
            "(Intercept)", "trttreat", "x", "sexmale", "z", "trttreat:sexmale", "trttreat:z",
            "x:sexmale", "x:z",
        ],
        [24, 12, 21.6, 12, 62.333333333333336, 6, 32, 10, 64.26666666666667],
        [300, 156, 408, 162, 761.6666666666666, 84, 452.6666666666667, 176.8, 1053.3333333333335],
        [],
    ),
    "y ~ trt * lg": (
        ["(Intercept)", "trttreat", "lgTRUE", "trttreat:lgTRUE"],
        [24, 12, 12, 6],
        [300, 156, 138, 72],
        [],
    ),
    "y ~ num": (
        ["(Intercept)", "num"],
        [24, 360],
        [300, 5236],
        [],
    ),
}  # fmt: skip

R_RANDOM = {
    "y ~ x + (1 | g5) + (1 | g12)": [
        ("g12",
            ["(Intercept)"],
            ["h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12"],
        ),
        ("g5",
            ["(Intercept)"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (1 | g12) + (1 | g5)": [
        ("g12",
            ["(Intercept)"],
            ["h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12"],
        ),
        ("g5",
            ["(Intercept)"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (1 + x || g5) + (1 | g12)": [
        ("g12",
            ["(Intercept)"],
            ["h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12"],
        ),
        ("g5",
            ["x"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
        ("g5",
            ["(Intercept)"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (1 | a/b)": [
        ("b:a",
            ["(Intercept)"],
            ["u:p", "u:q", "v:p", "v:q", "w:p", "w:q"],
        ),
        ("a",
            ["(Intercept)"],
            ["p", "q"],
        ),
    ],
    "y ~ x + (1 | a:b)": [
        ("a:b",
            ["(Intercept)"],
            ["p:u", "p:v", "p:w", "q:u", "q:v", "q:w"],
        ),
    ],
    "y ~ x + (1 | sex) + (1 | trt) + (1 | g5)": [
        ("g5",
            ["(Intercept)"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
        ("trt",
            ["(Intercept)"],
            ["control", "treat"],
        ),
        ("sex",
            ["(Intercept)"],
            ["female", "male"],
        ),
    ],
    "y ~ x + (1 | trt) + (1 | sex)": [
        ("trt",
            ["(Intercept)"],
            ["control", "treat"],
        ),
        ("sex",
            ["(Intercept)"],
            ["female", "male"],
        ),
    ],
    "y ~ x + (1 | c3/a)": [
        ("a:c3",
            ["(Intercept)"],
            ["p:z", "p:y", "p:x", "q:z", "q:y", "q:x"],
        ),
        ("c3",
            ["(Intercept)"],
            ["z", "y", "x"],
        ),
    ],
    "y ~ x + (1 | a/c3/sex)": [
        ("sex:(c3:a)",
            ["(Intercept)"],
            [
                "female:z:p", "female:z:q", "female:y:p", "female:y:q", "female:x:p", "female:x:q",
                "male:z:p", "male:z:q", "male:y:p", "male:y:q", "male:x:p", "male:x:q",
            ],
        ),
        ("c3:a",
            ["(Intercept)"],
            ["z:p", "z:q", "y:p", "y:q", "x:p", "x:q"],
        ),
        ("a",
            ["(Intercept)"],
            ["p", "q"],
        ),
    ],
    "y ~ x + (trt | g5)": [
        ("g5",
            ["(Intercept)", "trttreat"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (0 + f3 | g5)": [
        ("g5",
            ["f3hi", "f3lo", "f3mid"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (f3 + x | g5)": [
        ("g5",
            ["(Intercept)", "f3lo", "f3mid", "x"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (x * trt | g5)": [
        ("g5",
            ["(Intercept)", "x", "trttreat", "x:trttreat"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (lg | g5)": [
        ("g5",
            ["(Intercept)", "lgTRUE"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (0 + x + z | g5)": [
        ("g5",
            ["x", "z"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (x - 1 | g5)": [
        ("g5",
            ["x"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
    ],
    "y ~ x + (x || g5) + (1 | a)": [
        ("g5",
            ["(Intercept)"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
        ("g5",
            ["x"],
            ["g1", "g2", "g3", "g4", "g5"],
        ),
        ("a",
            ["(Intercept)"],
            ["p", "q"],
        ),
    ],
    "y ~ x + (1 | cs)": [
        ("cs",
            ["(Intercept)"],
            ["a", "A", "b", "B"],
        ),
    ],
}  # fmt: skip


# ------------------------------------------------------------------ fixed part against R


@pytest.mark.parametrize("formula", list(R_MODEL_MATRIX))
def test_model_matrix_matches_r(formula):
    names, sums, weighted, dropped = R_MODEL_MATRIX[formula]
    data = reference_data()
    if dropped:
        with pytest.warns(RankDeficientWarning, match="rank deficient so dropping") as rec:
            des = build_design(formula + " + (1 | g5)", data)
        assert ", ".join(dropped) in str(rec[0].message)
    else:
        des = build_design(formula + " + (1 | g5)", data)
    keep = [k for k, nm in enumerate(names) if nm not in dropped]
    assert des.xnames == tuple(names[k] for k in keep)
    assert des.dropped_columns == tuple(dropped)
    n = len(data)
    np.testing.assert_allclose(
        des.X.sum(axis=0), np.array(sums, float)[keep], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        (des.X * np.arange(1, n + 1)[:, None]).sum(axis=0), np.array(weighted, float)[keep],
        rtol=1e-12, atol=1e-10,
    )  # fmt: skip


def test_offset_is_added_not_a_column():
    des = build_design("y ~ x + offset(z) + offset(log(z)) + (1 | g5)", reference_data())
    d = reference_data()
    np.testing.assert_allclose(des.offset, d.z + np.log(d.z))
    assert des.xnames == ("(Intercept)", "x")


def test_contr_poly_matches_r():
    # R: print(contr.poly(5), digits = 17)
    r = np.array([
        [-6.3245553203367588e-01, 0.53452248382484879, -3.1622776601683777e-01,
         0.11952286093343928],
        [-3.1622776601683777e-01, -0.26726124191242440, 6.3245553203367577e-01,
         -0.47809144373375756],
        [-3.5108334685767005e-17, -0.53452248382484868, 1.7554167342883514e-16,
         0.71713716560063634],
        [3.1622776601683783e-01, -0.26726124191242440, -6.3245553203367599e-01,
         -0.47809144373375728],
        [6.3245553203367588e-01, 0.53452248382484879, 3.1622776601683783e-01,
         0.11952286093343928],
    ])  # fmt: skip
    np.testing.assert_allclose(contr_poly(5), r, atol=1e-15)


def test_rank_deficiency_message():
    # lme4: "fixed-effect model matrix is rank deficient so dropping 1 column / coefficient"
    # for glmer(y ~ trt:sex + (1 | g)); R's qr pivots out the last column, trttreat:sexmale.
    with pytest.warns(RankDeficientWarning) as rec:
        des = build_design("y ~ trt:sex + (1 | g5)", reference_data())
    assert str(rec[0].message) == (
        "fixed-effect model matrix is rank deficient so dropping 1 column: trttreat:sexmale"
    )
    assert des.X.shape == (24, 4)
    with pytest.warns(RankDeficientWarning, match="dropping 2 columns: I\\(x - 1\\), I\\(-x\\)"):
        build_design("y ~ x + I(x - 1) + I(-x) + (1 | g5)", reference_data())


def test_unused_categories_are_dropped():
    # R: glmer(y ~ u + (1 | g)) with u = factor(..., levels = c("a","b","c","d","e")) and no "e"
    # in the data has fixef names (Intercept) ub uc ud and no warning (drop.unused.levels).
    d = reference_data()
    d["u"] = pd.Categorical(np.array(list("abcd"))[np.arange(24) % 4], categories=list("abcde"))
    des = build_design("y ~ u + (1 | g5)", d)
    assert des.xnames == ("(Intercept)", "ub", "uc", "ud")
    assert list(des.factor_levels["u"]) == list("abcd")


def test_string_levels_sort_as_r():
    # R 4.2.2 (ICU collation): sort(c("b","B","a","A","_x","10","9","a b","a-b","ab","a_b","Ab",
    # "aB","AB","x.1","x1","X1","x10","x9","a1","a.","alpha","id_2","id-1","ID_1","Zeta","Beta"))
    values = ["b", "B", "a", "_x", "10", "9", "a b", "a-b", "ab", "a_b", "Ab", "aB", "AB", "x.1",
              "x1", "X1", "x10", "x9", "a1", "a.", "alpha", "id_2", "id-1", "ID_1", "Zeta", "Beta",
              "A"]  # fmt: skip
    r_sorted = ["_x", "10", "9", "a", "A", "a b", "a_b", "a-b", "a.", "a1", "ab", "aB", "Ab", "AB",
                "alpha", "b", "B", "Beta", "ID_1", "id_2", "id-1", "x.1", "x1", "X1", "x10", "x9",
                "Zeta"]  # fmt: skip
    assert [values[i] for i in r_level_order(values)] == r_sorted
    lower = ["id10", "id9", "id1", "b.2", "b 1"]
    assert [lower[i] for i in r_level_order(lower)] == ["b 1", "b.2", "id1", "id10", "id9"]
    assert list(r_level_order([10.0, 2.0, 33.0])) == [1, 0, 2]
    assert list(r_level_order([True, False])) == [1, 0]


def test_bool_and_mixed_case_factor_names():
    des = build_design("y ~ cs + (1 | g5)", reference_data())
    assert des.xnames == ("(Intercept)", "csA", "csb", "csB")
    des = build_design("y ~ lg + (1 | g5)", reference_data())
    assert des.xnames == ("(Intercept)", "lgTRUE")
    assert list(des.factor_levels["lg"]) == [False, True]


# ------------------------------------------------------------------ random part against lme4


def _labels(values) -> list[str]:
    return ["TRUE" if v is True else "FALSE" if v is False else str(v) for v in values]


@pytest.mark.parametrize("formula", list(R_RANDOM))
def test_random_terms_match_lme4(formula):
    data = reference_data()
    des = build_design(formula, data)
    got = [(t.group, list(t.cnms), _labels(t.levels)) for t in des.terms]
    assert got == [tuple(term) for term in R_RANDOM[formula]]
    for t in des.terms:
        assert isinstance(t, RandomTerm)
        assert t.codes.dtype == np.int64 and t.codes.min() == 0
        assert t.codes.max() == t.n_levels - 1
        assert t.X.shape == (len(data), len(t.cnms))
        # each row's level label is its grouping factor values joined with ":"
        factors = next(r.factors for r in parse_formula(formula).random if r.group == t.group)
        joined = data[factors[0]].astype(str)
        for f in factors[1:]:
            joined = joined + ":" + data[f].astype(str)
        assert list(np.asarray(_labels(t.levels), dtype=object)[t.codes]) == list(joined)


def test_terms_ordered_by_levels_ties_reversed_when_sorting():
    # lme4 1.1-31, glmer(y ~ x + (1 + x || a) + (1 | b)) with 5 a-levels and 30 b-levels:
    #   getME(m, "cnms") -> b: (Intercept); a: x; a: (Intercept)
    #   as.data.frame(VarCorr(m))$grp -> "b" "a" "a.1"
    # and (1 | sex) + (1 | trt) + (1 | a) (2, 2, 5 levels) -> a, trt, sex, while
    # (1 | trt) + (1 | sex) (already non-increasing) keeps trt, sex.
    d = reference_data()
    des = build_design("y ~ x + (1 + x || g5) + (1 | g12)", d)
    assert [(t.group, t.cnms, t.correlated) for t in des.terms] == [
        ("g12", ("(Intercept)",), True), ("g5", ("x",), False), ("g5", ("(Intercept)",), False)
    ]  # fmt: skip
    des = build_design("y ~ x + (1 | sex) + (1 | trt) + (1 | g5)", d)
    assert [t.group for t in des.terms] == ["g5", "trt", "sex"]


def test_nested_grouping_names_and_levels():
    # lme4: glmer(y ~ x + (1 | a/b)): names(getME(m, "flist")) -> "b:a" "a";
    # as.data.frame(VarCorr(m))$grp -> "b:a" "a"; levels(flist[["b:a"]]) start "b01:a" "b01:b".
    des = build_design("y ~ x + (1 | a/b)", reference_data())
    assert [t.group for t in des.terms] == ["b:a", "a"]
    assert list(des.terms[0].levels) == ["u:p", "u:q", "v:p", "v:q", "w:p", "w:q"]


def test_numeric_grouping_factor_levels_in_numeric_order():
    # R: levels(getME(glmer(y ~ x + (1 | num)), "flist")[[1]]) -> "2" "10" "33"
    des = build_design("y ~ x + (1 | num)", reference_data())
    assert list(des.terms[0].levels) == [2.0, 10.0, 33.0]
    d = reference_data().assign(id=np.arange(24) // 3 * 7)
    des = build_design("y ~ x + (1 | id)", d)
    assert list(des.terms[0].levels) == [0, 7, 14, 21, 28, 35, 42, 49]
    assert des.terms[0].levels.dtype == np.int64


def test_categorical_grouping_keeps_category_order():
    d = reference_data()
    d["gc"] = pd.Categorical(d.g5, categories=["g5", "g4", "g3", "g2", "g1", "g9"])
    des = build_design("y ~ x + (1 | gc)", d)
    assert list(des.terms[0].levels) == ["g5", "g4", "g3", "g2", "g1"]
    assert des.terms[0].codes[0] == 4  # row 0 is g1


# ------------------------------------------------------------------ the response


def _frame(n=40, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "y": np.tile([0, 1, 1, 0], n // 4), "x": rng.normal(size=n), "id": np.arange(n) // 4,
        "s": rng.integers(0, 6, n), "f": rng.integers(1, 6, n),
    })  # fmt: skip


def test_response_zero_one_int_float_bool():
    d = _frame()
    for col in (d.y, d.y.astype(float), d.y.astype(bool)):
        des = build_design("yy ~ x + (1 | id)", d.assign(yy=col))
        np.testing.assert_array_equal(des.y, d.y.to_numpy(float))
        np.testing.assert_array_equal(des.trials, np.ones(len(d)))
        assert des.response_name == "yy"


def test_response_two_level_strings_first_level_is_failure():
    # R's binomial family: "a factor: the first level denotes failure and all others success";
    # a character response becomes factor() with sorted levels, so "no" is the failure.
    d = _frame()
    d["ans"] = np.where(d.y == 1, "yes", "no")
    des = build_design("ans ~ x + (1 | id)", d)
    np.testing.assert_array_equal(des.y, d.y.to_numpy(float))
    d["ans"] = pd.Categorical(d.ans, categories=["yes", "no"])  # now "yes" is the failure
    des = build_design("ans ~ x + (1 | id)", d)
    np.testing.assert_array_equal(des.y, 1.0 - d.y.to_numpy(float))


def test_response_cbind():
    d = _frame()
    des = build_design("cbind(s, f) ~ x + (1 | id)", d)
    np.testing.assert_allclose(des.trials, d.s + d.f)
    np.testing.assert_allclose(des.y, d.s / (d.s + d.f))
    assert des.response_name == "cbind(s, f)"
    d["n"] = d.s + d.f
    des2 = build_design("cbind(s, n - s) ~ x + (1 | id)", d)
    np.testing.assert_allclose(des2.y, des.y)


def test_response_cbind_zero_trials_kept_with_zero_weight():
    d = _frame()
    d.loc[0, ["s", "f"]] = 0
    des = build_design("cbind(s, f) ~ x + (1 | id)", d)
    assert des.trials[0] == 0 and des.y[0] == 0


def test_response_proportion_with_weights():
    d = _frame()
    d["n"] = d.s + d.f
    d["p"] = d.s / d.n
    by_name = build_design("p ~ x + (1 | id)", d, weights="n")
    by_array = build_design("p ~ x + (1 | id)", d, weights=d.n.to_numpy())
    by_list = build_design("p ~ x + (1 | id)", d, weights=list(d.n))
    for des in (by_name, by_array, by_list):
        np.testing.assert_allclose(des.trials, d.n)
        np.testing.assert_allclose(des.y, d.p)


def test_zero_one_response_with_prior_weights():
    d = _frame()
    from glmmteach.warnings import NonIntegerSuccessesWarning

    # 2.5 "trials" per row: R warns "non-integer #successes" and still fits
    with pytest.warns(NonIntegerSuccessesWarning, match="non-integer #successes"):
        des = build_design("y ~ x + (1 | id)", d, weights=np.full(len(d), 2.5))
    np.testing.assert_array_equal(des.trials, np.full(len(d), 2.5))
    np.testing.assert_array_equal(des.y, d.y)


# ------------------------------------------------------------------ missing values


def test_missing_values_are_dropped_with_a_warning():
    rng = np.random.default_rng(3)
    n = 3500
    d = pd.DataFrame({"y": rng.integers(0, 2, n), "x": rng.normal(size=n),
                      "id": rng.integers(0, 100, n).astype(float), "unused": np.nan})  # fmt: skip
    d.loc[[5, 17], "x"] = np.nan
    d.loc[[17, 42], "id"] = np.nan
    with pytest.warns(RowsDroppedWarning) as rec:
        des = build_design("y ~ x + (1 | id)", d)
    assert str(rec[0].message) == "dropped 3 of 3500 rows with missing values in: x, id"
    assert des.n_dropped == 3 and des.nobs == 3497
    assert list(des.data.index[:6]) == [0, 1, 2, 3, 4, 6]
    assert len(des.data) == 3497


def test_missing_values_in_strings_categoricals_weights_and_response():
    d = _frame()
    d["g"] = pd.Series(["a", "b", None, "c"] * 10, dtype=object)
    d["c"] = pd.Categorical(["u", "v", "u", None] * 10)
    w = np.ones(len(d))
    w[1] = np.nan
    d["yy"] = d.y.astype(float)
    d.loc[0, "yy"] = np.nan
    with pytest.warns(RowsDroppedWarning, match="in: yy, c, g, weights"):
        des = build_design("yy ~ x + c + (1 | g)", d, weights=w)
    assert des.nobs == 40 - 22  # g and c miss rows 2 and 3 of each 4; yy row 0, weights row 1
    assert des.n_dropped == 40 - des.nobs


def test_nothing_dropped_keeps_every_row_in_a_private_copy():
    d = _frame()
    des = build_design("y ~ x + (1 | id)", d)
    assert des.n_dropped == 0
    pd.testing.assert_frame_equal(des.data, d)
    # editing the caller's frame afterwards does not change the design's data
    d.loc[d.index[0], "x"] = 1e6
    assert des.data["x"].iloc[0] != 1e6


# ------------------------------------------------------------------ bad input, one per rule


def test_bad_binary_response():
    d = _frame()
    with pytest.raises(ValueError, match="'s' must hold 0/1 values.*cbind\\(successes, fail"):
        build_design("s ~ x + (1 | id)", d)


def test_bad_two_level_response():
    d = _frame().assign(k=lambda f: np.array(["a", "b", "c", "a"] * 10))
    with pytest.raises(ValueError, match="'k' has 3 levels"):
        build_design("k ~ x + (1 | id)", d)


def test_bad_cbind_counts():
    d = _frame()
    d["n"] = d.s + d.f
    d.loc[3, "n"] = 0
    with pytest.raises(ValueError, match="second \\(failures\\) column of cbind\\(s, n - s\\) is "
                                         "negative in 1 row.*not\\s+\\(successes, trials\\)"):
        build_design("cbind(s, n - s) ~ x + (1 | id)", d)
    d.loc[3, "n"] = 5
    d.loc[4, "s"] = -1
    with pytest.raises(ValueError, match="first \\(successes\\) column.*negative"):
        build_design("cbind(s, n - s) ~ x + (1 | id)", d)


def test_bad_proportion():
    d = _frame()
    with pytest.raises(ValueError, match="with weights= the response 's' must be a proportion"):
        build_design("s ~ x + (1 | id)", d, weights=np.full(len(d), 5.0))


def test_bad_weights():
    d = _frame()
    with pytest.raises(ValueError, match="weights must be >= 0"):
        build_design("y ~ x + (1 | id)", d, weights=-np.ones(len(d)))
    with pytest.raises(ValueError, match="weights must be finite"):
        build_design("y ~ x + (1 | id)", d, weights=np.full(len(d), np.inf))
    with pytest.raises(ValueError, match="weights has 39 values but data has 40 rows"):
        build_design("y ~ x + (1 | id)", d, weights=np.ones(39))
    with pytest.raises(ValueError, match="column 'nn' is not in data"):
        build_design("y ~ x + (1 | id)", d, weights="nn")
    with pytest.raises(ValueError, match="cannot be combined with the response cbind"):
        build_design("cbind(s, f) ~ x + (1 | id)", d, weights=np.ones(len(d)))


def test_bad_infinite_predictor():
    d = _frame()
    d.loc[7, "x"] = np.inf
    with pytest.raises(ValueError, match="predictor 'x' is not finite.*1 row \\(positions 7\\)"):
        build_design("y ~ x + (1 | id)", d)
    with pytest.raises(ValueError, match="predictor 'log\\(x\\)' is not finite"):
        build_design("y ~ log(x) + (1 | id)", _frame())
    with pytest.raises(ValueError, match="random-effect covariate 'x' is not finite"):
        build_design("y ~ 1 + (x | id)", d)


def test_bad_grouping_factor_one_level():
    d = _frame().assign(one="a")
    with pytest.raises(ValueError, match="'one' needs at least 2 levels"):
        build_design("y ~ x + (1 | one)", d)


def test_bad_grouping_factor_as_many_levels_as_rows():
    d = _frame().assign(row=np.arange(40))
    with pytest.raises(ValueError, match="number of levels of each grouping factor must be < "
                                         "number of observations"):
        build_design("y ~ x + (1 | row)", d)


def test_bad_more_random_effects_than_rows():
    # lme4: "number of observations (=300) < number of random effects (=436) for term
    # (x | c3:(b:a)); the random-effects parameters are probably unidentifiable"
    d = _frame().assign(pair=np.arange(40) // 2)
    with pytest.raises(ValueError, match="number of observations \\(=40\\) < number of random "
                                         "effects \\(=60\\) for term "
                                         "\\(x \\+ I\\(x\\^2\\) \\| pair\\)"):
        build_design("y ~ x + (x + I(x^2) | pair)", d)


def test_bad_no_random_term():
    with pytest.raises(ValueError, match="no random-effect term.*statsmodels.formula.api.glm"):
        build_design("y ~ x", _frame())


def test_bad_unknown_column():
    with pytest.raises(ValueError, match="column 'xx' is not in data; did you mean 'x'\\?"):
        build_design("y ~ xx + (1 | id)", _frame())
    with pytest.raises(ValueError, match="column 'ids' is not in data; did you mean 'id'\\?"):
        build_design("y ~ x + (1 | ids)", _frame())
    with pytest.raises(ValueError, match="column 'zzz' is not in data$"):
        build_design("y ~ zzz + (1 | id)", _frame())


def test_bad_all_zero_or_all_one():
    d = _frame()
    with pytest.raises(ValueError, match="no successes \\(all 0\\): nothing to model"):
        build_design("zero ~ x + (1 | id)", d.assign(zero=0))
    with pytest.raises(ValueError, match="no failures \\(all 1\\): nothing to model"):
        build_design("one ~ x + (1 | id)", d.assign(one=True))
    with pytest.raises(ValueError, match="nothing to model"):
        build_design("cbind(s, 0 * f) ~ x + (1 | id)", d)


def test_bad_formula_and_data_types():
    with pytest.raises(TypeError, match="formula must be a string"):
        build_design(None, _frame())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no '~'"):
        build_design("y + x", _frame())
    with pytest.raises(TypeError, match="data must be a pandas DataFrame, not dict"):
        build_design("y ~ x + (1 | id)", {"y": [0, 1]})  # type: ignore[arg-type]


def test_bad_single_level_factor():
    d = _frame().assign(k="only")
    with pytest.raises(ValueError, match="categorical predictor 'k' has a single level"):
        build_design("y ~ x + k + (1 | id)", d)


def test_bad_expressions():
    d = _frame().assign(trt=np.array(["a", "b"] * 20))
    with pytest.raises(ValueError, match="'trt': it is categorical"):
        build_design("y ~ I(trt + 1) + (1 | id)", d)
    with pytest.raises(ValueError, match="the function 'foo' is not supported"):
        build_design("y ~ foo(x) + (1 | id)", d)
    with pytest.raises(ValueError, match="does not depend on the data"):
        build_design("y ~ I(2 * pi) + (1 | id)", d)


# ------------------------------------------------------------------ expressions


def test_expressions_evaluate_on_columns():
    d = _frame()
    d["z"] = np.abs(d.x) + 1
    des = build_design(
        "y ~ I(x**2) + np.log(z) + exp(x) + sqrt(z) + I(x > 0) + C(s) + (1 | id)", d
    )
    levels = sorted(d.s.unique())
    assert des.xnames == (
        "(Intercept)", "I(x^2)", "np.log(z)", "exp(x)", "sqrt(z)", "I(x > 0)TRUE",
        *[f"C(s){k}" for k in levels[1:]],
    )  # fmt: skip
    np.testing.assert_allclose(des.X[:, 1], d.x**2)
    np.testing.assert_allclose(des.X[:, 2], np.log(d.z))
    np.testing.assert_allclose(des.X[:, 5], (d.x > 0).astype(float))


def test_comparison_with_string_makes_a_logical_factor():
    d = _frame().assign(trt=np.array(["control", "treat"] * 20))
    des = build_design('y ~ I(trt == "treat") + (1 | id)', d)
    assert des.xnames == ("(Intercept)", 'I(trt == "treat")TRUE')


# ------------------------------------------------------------------ Design object


def test_design_fields():
    des = build_design("y ~ x + (1 | id)", _frame())
    assert isinstance(des, Design)
    assert des.X.dtype == np.float64 and des.X.shape == (40, 2)
    assert des.y.dtype == np.float64 and des.trials.dtype == np.float64
    assert des.offset.shape == (40,) and not des.offset.any()
    assert des.formula == "y ~ x + (1 | id)"
    assert isinstance(des.terms[0].levels, pd.Index)
    with pytest.raises(dataclasses.FrozenInstanceError):
        des.y = None  # type: ignore[misc]
    assert "Design(" in repr(des)


def test_accepts_parsed_formula():
    parsed = parse_formula("y ~ x + (1 | id)")
    des = build_design(parsed, _frame())
    assert des.parsed is parsed and des.formula == "y ~ x + (1 | id)"


# ------------------------------------------------------------------ prediction helpers


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    n = 200
    d = pd.DataFrame({
        "y": rng.integers(0, 2, n), "x": rng.normal(size=n), "id": np.repeat(np.arange(20), 10),
        "trt": rng.choice(["control", "treat"], n),
        "sex": pd.Categorical(rng.choice(["m", "f"], n), categories=["m", "f"]),
        "a": rng.choice(list("pq"), n), "b": rng.choice(list("uvw"), n),
    })  # fmt: skip
    des = build_design("y ~ trt * sex + scale(x) + offset(x / 2) + (1 + x | id) + (1 | a/b)", d)
    return d, des


def test_new_x_reproduces_fit(fitted):
    d, des = fitted
    np.testing.assert_array_equal(des.new_X(d), des.X)
    np.testing.assert_allclose(des.new_offset(d), des.offset)
    for t, (codes, X) in zip(des.terms, des.new_terms(d), strict=True):
        np.testing.assert_array_equal(codes, t.codes)
        np.testing.assert_array_equal(X, t.X)


def test_new_x_uses_fitted_levels_and_scaling(fitted):
    d, des = fitted
    new = pd.DataFrame({"trt": ["treat", "control"], "sex": ["f", "m"], "x": [0.5, np.nan],
                        "id": [3, 99], "a": ["q", "p"], "b": ["w", "z"]})  # fmt: skip
    X = des.new_X(new)
    assert des.xnames == ("(Intercept)", "trttreat", "sexf", "scale(x)", "trttreat:sexf")
    center, sd = d.x.mean(), d.x.std(ddof=1)
    np.testing.assert_allclose(X[0], [1, 1, 1, (0.5 - center) / sd, 1])
    assert np.isnan(X[1, 3])
    np.testing.assert_allclose(des.new_offset(new), [0.25, np.nan])


def test_new_terms_unseen_levels_are_minus_one(fitted):
    d, des = fitted
    new = pd.DataFrame({"trt": ["treat"] * 3, "sex": ["f"] * 3, "x": [0.5, 1.0, 2.0],
                        "id": [3, 99, 0], "a": ["q", "p", "p"], "b": ["w", "z", "u"]})  # fmt: skip
    (c_id, X_id), (c_ba, _), (c_a, _) = des.new_terms(new)
    assert [t.group for t in des.terms] == ["id", "b:a", "a"]
    np.testing.assert_array_equal(c_id, [3, -1, 0])
    assert list(des.terms[1].levels) == ["u:p", "u:q", "v:p", "v:q", "w:p", "w:q"]
    np.testing.assert_array_equal(c_ba, [5, -1, 0])
    np.testing.assert_array_equal(c_a, [1, 0, 0])
    np.testing.assert_allclose(X_id, [[1, 0.5], [1, 1.0], [1, 2.0]])


def test_new_x_errors(fitted):
    d, des = fitted
    new = pd.DataFrame({"trt": ["placebo"], "sex": ["f"], "x": [0.0]})
    with pytest.raises(ValueError, match="column 'trt' has level\\(s\\) 'placebo' not seen"):
        des.new_X(new)
    with pytest.raises(ValueError, match="column 'x' is not in newdata"):
        des.new_X(new.drop(columns="x"))
    with pytest.raises(ValueError, match="column 'b' is not in newdata"):
        des.new_terms(new.assign(trt="treat", id=1, a="p"))
    with pytest.raises(TypeError, match="newdata must be a pandas DataFrame"):
        des.new_X({"x": [1.0]})  # type: ignore[arg-type]


def test_new_terms_with_categorical_covariate():
    d = reference_data()
    des = build_design("y ~ x + (trt | g5)", d)
    new = pd.DataFrame({"trt": ["treat", "control"], "g5": ["g2", "g77"]})
    ((codes, X),) = des.new_terms(new)
    np.testing.assert_array_equal(codes, [1, -1])
    np.testing.assert_array_equal(X, [[1, 1], [1, 0]])


# ------------------------------------------------------------------ speed


def test_large_design_builds_fast():
    rng = np.random.default_rng(1)
    n, groups = 1_000_000, 100_000
    d = pd.DataFrame({"y": rng.integers(0, 2, n), "x": rng.normal(size=n),
                      "g": rng.permutation(np.arange(n) % groups)})  # fmt: skip
    build_design("y ~ x + (1 | g)", d.iloc[:1000])  # warm up
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        des = build_design("y ~ x + (1 | g)", d)
    elapsed = time.perf_counter() - start
    assert des.terms[0].n_levels == groups
    assert elapsed < 2.0, f"building took {elapsed:.2f} s"


def test_contrast_arguments_are_refused_with_a_reason():
    d = pd.DataFrame({"y": [0, 1, 1, 0] * 5, "trt": ["a", "b"] * 10, "g": np.repeat(range(5), 4)})
    with pytest.raises(ValueError, match="treatment contrasts only"):
        build_design("y ~ C(trt, contr.sum) + (1|g)", d)
