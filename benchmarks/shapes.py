"""Simulated data in the shapes of issue 9's timing table, with fixed seeds.

Every generator takes no argument (its seed is fixed inside, through its own
``numpy.random.default_rng``), so glmmteach, lme4 and glmmTMB fit identical rows in every run.
Sizes and structures follow the issue's table; parameters are moderate so that each model is
well identified (no boundary fits), which keeps the comparison about speed.

Shapes (key: rows, structure)
-----------------------------
``verbagg_like``      7,584 rows: 316 subjects x 24 items, crossed (VerbAgg's design)
``nested_schools``    31,000 rows: 2,400 schools in 130 districts, ``(1|district/school)``
``nested_mothers``    2,200 rows: 1,600 mothers in 160 communities, ``(1|community/mother)``
``contraception_like`` 1,934 rows: 102 districts, a numeric covariate, a 2-level factor and a
                      24-level factor (for ``nAGQ = 0`` and ``nAGQ = 7``)
``toenail_like``      1,900 rows: 294 patients, ``treatment * month`` (toenail's design)
``crossed_large``     200,000 rows in a 5,000 x 2,000 crossed design
``agq_many_groups``   6,000 rows in 1,200 groups (AGQ with more than 1,000 groups)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = [
    "agq_many_groups",
    "contraception_like",
    "crossed_large",
    "nested_mothers",
    "nested_schools",
    "toenail_like",
    "verbagg_like",
]


def _labels(prefix: str, n: int) -> list[str]:
    width = len(str(n))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def _factor(codes: np.ndarray, prefix: str, n: int) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=_labels(prefix, n))


def verbagg_like() -> pd.DataFrame:
    """VerbAgg's shape, simulated: 316 subjects x 24 items, every pair once (7,584 rows).

    Subject covariates Anger (integer 11..39) and Gender (F/M, about 3:1); item attributes
    btype (curse/scold/shout), situ (other/self) and mode (want/do). Parameters near lme4's
    fit of ``r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)`` on VerbAgg, plus a
    subject-by-btype effect (SD 0.5) so that ``(1|id:btype)`` is identified.
    """
    rng = np.random.default_rng(316024)
    n_id = 316
    anger = rng.integers(11, 40, size=n_id)
    gender = rng.choice(["F", "M"], size=n_id, p=[243 / 316, 73 / 316])
    items = [
        (f"S{s}{mode.capitalize()}{btype.capitalize()}", btype, "other" if s <= 2 else "self",
         mode)
        for s in (1, 2, 3, 4)
        for mode in ("want", "do")
        for btype in ("curse", "scold", "shout")
    ]
    n_item = len(items)
    id_codes = np.repeat(np.arange(n_id), n_item)
    item_codes = np.tile(np.arange(n_item), n_id)
    btype = np.array([it[1] for it in items])[item_codes]
    situ = np.array([it[2] for it in items])[item_codes]
    mode = np.array([it[3] for it in items])[item_codes]
    u_id = rng.normal(0.0, 1.34, size=n_id)
    u_item = rng.normal(0.0, 0.49, size=n_item)
    bt_codes = np.searchsorted(["curse", "scold", "shout"], btype)
    u_idbt = rng.normal(0.0, 0.5, size=(n_id, 3))
    eta = (
        -1.1
        + 0.057 * anger[id_codes]
        + 0.32 * (gender[id_codes] == "M")
        - 1.06 * (btype == "scold")
        - 2.10 * (btype == "shout")
        - 1.05 * (situ == "self")
        + u_id[id_codes]
        + u_item[item_codes]
        + u_idbt[id_codes, bt_codes]
    )
    y = rng.random(eta.size) < expit(eta)
    return pd.DataFrame(
        {
            "r2": pd.Categorical(np.where(y, "Y", "N"), categories=["N", "Y"]),
            "Anger": anger[id_codes],
            "Gender": pd.Categorical(gender[id_codes], categories=["F", "M"]),
            "btype": pd.Categorical(btype, categories=["curse", "scold", "shout"]),
            "situ": pd.Categorical(situ, categories=["other", "self"]),
            "mode": pd.Categorical(mode, categories=["want", "do"]),
            "id": pd.Categorical.from_codes(id_codes,
                                            categories=[str(i + 1) for i in range(n_id)]),
            "item": pd.Categorical.from_codes(item_codes, categories=[it[0] for it in items]),
        }
    )


def _nested(seed: int, n_outer: int, n_inner: int, n_rows: int, sd_outer: float,
            sd_inner: float, outer: str, inner: str, beta: tuple[float, float, float]):
    """Rows in inner units nested in outer units (every inner unit in exactly one outer).

    Inner units are spread over the outer ones as evenly as possible, rows over the inner
    units likewise (every inner unit has at least one row). Inner labels restart in every
    outer unit (``m1, m2, ...``), so only ``outer:inner`` identifies an inner unit.
    """
    rng = np.random.default_rng(seed)
    inner_outer = np.sort(np.arange(n_inner) % n_outer)  # outer unit of each inner unit
    row_inner = np.sort(np.concatenate([np.arange(n_inner),
                                        rng.integers(0, n_inner, size=n_rows - n_inner)]))
    row_outer = inner_outer[row_inner]
    # inner label = position within its outer unit
    first = np.searchsorted(inner_outer, np.arange(n_outer))
    local = np.arange(n_inner) - first[inner_outer]
    n_local = int(local.max()) + 1
    x = rng.normal(size=n_rows)
    z = rng.random(n_rows) < 0.5
    b_outer = rng.normal(0.0, sd_outer, size=n_outer)
    b_inner = rng.normal(0.0, sd_inner, size=n_inner)
    eta = beta[0] + beta[1] * x + beta[2] * z + b_outer[row_outer] + b_inner[row_inner]
    y = (rng.random(n_rows) < expit(eta)).astype(np.int64)
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "z": pd.Categorical(np.where(z, "yes", "no"), categories=["no", "yes"]),
            outer: _factor(row_outer, outer[0], n_outer),
            inner: _factor(local[row_inner], inner[0], n_local),
        }
    )


def nested_schools() -> pd.DataFrame:
    """31,000 pupils in 2,400 schools in 130 districts; district SD 0.5, school SD 0.7."""
    return _nested(31_000, 130, 2_400, 31_000, 0.5, 0.7, "district", "school",
                   (-0.4, 0.5, 0.3))


def nested_mothers() -> pd.DataFrame:
    """2,200 children of 1,600 mothers in 160 communities; SDs 0.8 and 1.2 (guImmun-like)."""
    return _nested(2_200, 160, 1_600, 2_200, 0.8, 1.2, "community", "mother",
                   (0.3, 0.6, -0.5))


def contraception_like() -> pd.DataFrame:
    """1,934 women in 102 districts (Contraception's ``urban:district`` shape).

    Columns: ``use`` (0/1), centred ``age``, ``urban`` (N/Y), ``livch`` (number of living
    children: 0, 1, 2, 3+) and ``f24``, a 24-level factor of unequal level sizes (a
    many-level fixed factor). District SD 0.5.
    """
    rng = np.random.default_rng(1934)
    n, n_g = 1_934, 102
    g = np.sort(np.concatenate([np.arange(n_g), rng.integers(0, n_g, size=n - n_g)]))
    age = rng.normal(0.0, 1.0, size=n)
    urban = rng.random(n) < 0.3
    livch = rng.choice(4, size=n, p=[0.27, 0.23, 0.2, 0.3])
    p24 = np.linspace(1.0, 3.0, 24)
    f24 = rng.choice(24, size=n, p=p24 / p24.sum())
    eff24 = rng.normal(0.0, 0.4, size=24)
    eff24[0] = 0.0
    b = rng.normal(0.0, 0.5, size=n_g)
    eta = (-1.0 + 0.3 * age - 0.2 * age**2 + 0.7 * urban
           + np.array([0.0, 0.8, 0.9, 0.8])[livch] + eff24[f24] + b[g])
    y = (rng.random(n) < expit(eta)).astype(np.int64)
    return pd.DataFrame(
        {
            "use": y,
            "age": age,
            "urban": pd.Categorical(np.where(urban, "Y", "N"), categories=["N", "Y"]),
            "livch": pd.Categorical(np.array(["0", "1", "2", "3+"])[livch],
                                    categories=["0", "1", "2", "3+"]),
            "f24": _factor(f24, "k", 24),
            "district": _factor(g, "d", n_g),
        }
    )


def toenail_like() -> pd.DataFrame:
    """1,900 visits of 294 patients, treatment * month; patient SD 4 (toenail's shape).

    Patients have 1..7 visits (most 7) at months drawn near 0, 1, 2, 3, 6, 9, 12; the large
    patient SD is what makes adaptive quadrature differ from Laplace on the real data.
    """
    rng = np.random.default_rng(294)
    n_pat, n = 294, 1_900
    visits = np.full(n_pat, 7)
    drop = rng.choice(n_pat, size=n_pat * 7 - n, replace=True)
    np.subtract.at(visits, drop, 1)
    visits = np.maximum(visits, 1)
    while visits.sum() > n:  # exact row count
        i = rng.integers(n_pat)
        if visits[i] > 1:
            visits[i] -= 1
    while visits.sum() < n:
        i = rng.integers(n_pat)
        if visits[i] < 7:
            visits[i] += 1
    pat = np.repeat(np.arange(n_pat), visits)
    visit = np.concatenate([np.arange(v) for v in visits])
    month = np.array([0.0, 1.0, 2.0, 3.0, 6.0, 9.0, 12.0])[visit] + rng.normal(0, 0.2, n)
    trt = (np.arange(n_pat) % 2 == 1)[pat]
    b = rng.normal(0.0, 4.0, size=n_pat)
    eta = -1.6 - 0.4 * month - 0.15 * trt * month + 0.0 * trt + b[pat]
    y = (rng.random(n) < expit(eta)).astype(np.int64)
    return pd.DataFrame(
        {
            "outcome": y,
            "treatment": pd.Categorical(np.where(trt, "terbinafine", "itraconazole"),
                                        categories=["itraconazole", "terbinafine"]),
            "month": month,
            "patient": _factor(pat, "p", n_pat),
        }
    )


def crossed_large() -> pd.DataFrame:
    """200,000 rows in a 5,000 x 2,000 crossed design (a: 5,000 levels, b: 2,000 levels).

    Each row pairs a random ``a`` with a random ``b`` (every level used; 40 rows per ``a``,
    100 per ``b``); SDs 0.8 (a) and 0.5 (b).
    """
    rng = np.random.default_rng(5_000_2_000)
    n, na, nb = 200_000, 5_000, 2_000
    a = np.repeat(np.arange(na), n // na)
    b = rng.permutation(np.tile(np.arange(nb), n // nb))
    x = rng.normal(size=n)
    ua = rng.normal(0.0, 0.8, size=na)
    ub = rng.normal(0.0, 0.5, size=nb)
    y = (rng.random(n) < expit(-0.3 + 0.5 * x + ua[a] + ub[b])).astype(np.int64)
    return pd.DataFrame({"y": y, "x": x, "a": _factor(a, "a", na), "b": _factor(b, "b", nb)})


def agq_many_groups() -> pd.DataFrame:
    """6,000 rows of 0/1 data in 1,200 groups of 5; intercept SD 1.5 (AGQ matters)."""
    rng = np.random.default_rng(1200)
    n_g, per = 1_200, 5
    g = np.repeat(np.arange(n_g), per)
    x = rng.normal(size=g.size)
    b = rng.normal(0.0, 1.5, size=n_g)
    y = (rng.random(g.size) < expit(-0.2 + 0.8 * x + b[g])).astype(np.int64)
    return pd.DataFrame({"y": y, "x": x, "g": _factor(g, "g", n_g)})
