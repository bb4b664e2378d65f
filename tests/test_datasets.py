"""Tests for glmmteach.datasets.vegetables against R's own output.

``tests/data/r_vegetables.csv`` is written by ``tools/r_vegetables_reference.R`` (the
article's R code plus its logit-scale side note, run with R 4.2.2); the printed rows and
proportions below are the article's (and ``/work/shared/reference/lme4-article-run.txt``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glmmteach import datasets

REF = Path(__file__).parent / "data" / "r_vegetables.csv"


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF)


def test_shape_columns_and_order():
    d = datasets.vegetables()
    assert d.shape == (3500, 7)
    assert list(d.columns) == ["id", "day", "trt", "sex", "trtsex", "p", "y"]
    assert d["id"].tolist() == [i for i in range(1, 251) for _ in range(14)]
    assert d["day"].tolist() == list(range(1, 15)) * 250
    assert d.index.equals(pd.RangeIndex(3500))
    assert d["y"].dtype == np.int64 and d["id"].dtype == np.int64


def test_factor_levels_follow_r():
    d = datasets.vegetables()
    assert list(d["trt"].cat.categories) == ["control", "treat"]
    assert list(d["sex"].cat.categories) == ["female", "male"]
    assert list(d["trtsex"].cat.categories) == [
        "control.female", "treat.female", "control.male", "treat.male",
    ]
    expected = d["trt"].astype(str) + "." + d["sex"].astype(str)
    assert (d["trtsex"].astype(str) == expected).all()


def test_every_value_matches_r(ref):
    d = datasets.vegetables(include_logit=True)
    assert list(d.columns) == ["id", "day", "trt", "sex", "trtsex", "p", "y", "p2", "y2"]
    for col in ("id", "day", "y", "y2"):
        assert (d[col].to_numpy() == ref[col].to_numpy()).all(), col
    for col in ("trt", "sex", "trtsex"):
        assert (d[col].astype(str).to_numpy() == ref[col].to_numpy()).all(), col
    np.testing.assert_allclose(d["p"].to_numpy(), ref["p"].to_numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(d["p2"].to_numpy(), ref["p2"].to_numpy(), rtol=0, atol=1e-15)


def test_article_printed_rows():
    d = datasets.vegetables()
    first = d[d["id"] == 1].head(6)
    assert (first[["trt", "sex"]].astype(str).to_numpy() == ["control", "female"]).all()
    assert (first["p"].round(6) == 0.371142).all()
    assert first["y"].tolist() == [0, 0, 1, 0, 0, 0]
    fifth = d[d["id"] == 5].head(6)
    assert fifth.index.tolist() == list(range(56, 62))  # R's rows 57..62
    assert (fifth[["trt", "sex"]].astype(str).to_numpy() == ["treat", "female"]).all()
    assert (fifth["p"].round(7) == 0.8558735).all()
    assert fifth["y"].tolist() == [1] * 6
    assert d.loc[14, ["id", "day"]].tolist() == [2, 1]
    assert d.loc[14, ["trt", "sex"]].astype(str).tolist() == ["treat", "male"]


def test_article_observed_proportions():
    d = datasets.vegetables()
    obs = d.groupby(["sex", "trt"], observed=True)["y"].mean()
    assert round(obs[("female", "control")], 7) == 0.4242424
    assert round(obs[("female", "treat")], 7) == 0.8659341
    assert round(obs[("male", "control")], 7) == 0.2820823
    assert round(obs[("male", "treat")], 7) == 0.5071429


def test_logit_columns_do_not_change_the_rest():
    plain = datasets.vegetables()
    both = datasets.vegetables(include_logit=True)
    pd.testing.assert_frame_equal(plain, both[plain.columns])
    assert ((both["p2"] > 0) & (both["p2"] < 1)).all()


def test_returns_a_fresh_copy_each_call():
    d = datasets.vegetables()
    d.loc[0, "y"] = 99
    d["extra"] = 1
    again = datasets.vegetables()
    assert again.loc[0, "y"] == 0
    assert "extra" not in again.columns
    assert datasets.vegetables() is not datasets.vegetables()
    assert datasets._vegetables.cache_info().hits > 0
    assert again.attrs == {}


def test_bad_option():
    with pytest.raises(TypeError, match="include_logit must be True or False"):
        datasets.vegetables(include_logit="yes")
