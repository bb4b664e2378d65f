"""The real data sets: loaders, types and level order, the shipped CSVs against the R packages,
and lme4 cross-checks of the models of lesson 07 and exercise 07.

The R parts run when Rscript (with HSAUR3 and mlmRev for the data, lme4 for the fits) is
available and are skipped with the reason otherwise. Reference numbers come from R.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from roracle import fit_lme4_batch, require_lme4

import glmmteach
from glmmteach import datasets

ROOT = Path(__file__).resolve().parents[1]
TIGHT = "glmerControl(tolPwrss = 1e-12, optimizer = 'bobyqa', optCtrl = list(rhoend = 1e-10))"
TOENAIL_MODEL = "severe ~ treatment * time + (1 | patientID)"
CONTRACEPTION_INT = "use ~ age + I(age^2) + urban + livch + (1 | district)"
CONTRACEPTION_SLOPE = "use ~ age + I(age^2) + urban + livch + (1 + urban | district)"


# ----------------------------------------------------------------------------- loaders


def test_toenail_types_levels_and_shape():
    d = datasets.toenail()
    assert d.shape == (1908, 5)
    assert list(d.columns) == ["patientID", "outcome", "treatment", "time", "visit"]
    assert d["patientID"].dtype == np.int64 and d["visit"].dtype == np.int64
    assert d["time"].dtype == np.float64
    assert list(d["outcome"].cat.categories) == ["none or mild", "moderate or severe"]
    assert list(d["treatment"].cat.categories) == ["itraconazole", "terbinafine"]
    assert not d["outcome"].cat.ordered and not d["treatment"].cat.ordered
    assert d["patientID"].nunique() == 294
    assert d["visit"].between(1, 7).all() and (d["time"] >= 0).all()
    # sorted by patient, then visit, as documented; treatment constant within a patient
    assert d.sort_values(["patientID", "visit"]).index.equals(d.index)
    assert (d.groupby("patientID")["treatment"].nunique() == 1).all()
    assert not d.isna().any().any()


def test_contraception_types_levels_and_shape():
    d = datasets.contraception()
    assert d.shape == (1934, 6)
    assert list(d.columns) == ["woman", "district", "use", "livch", "age", "urban"]
    assert list(d["use"].cat.categories) == ["N", "Y"]
    assert list(d["livch"].cat.categories) == ["0", "1", "2", "3+"]
    assert not d["livch"].cat.ordered  # as in mlmRev: treatment contrasts, not polynomial
    assert list(d["urban"].cat.categories) == ["N", "Y"]
    assert d["district"].nunique() == 60 and 54 not in set(d["district"])
    assert d["woman"].tolist() == list(range(1, 1935))
    assert abs(d["age"].mean()) < 0.01  # centred
    assert not d.isna().any().any()


def test_load_and_available():
    assert datasets.available() == ["contraception", "toenail", "vegetables"]
    pd.testing.assert_frame_equal(datasets.load("toenail"), datasets.toenail())
    pd.testing.assert_frame_equal(datasets.load("Contraception"), datasets.contraception())
    pd.testing.assert_frame_equal(datasets.load("vegetables"), datasets.vegetables())


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: contraception, toenail, vegetables") as err:
        datasets.load("toenails")
    assert "Did you mean 'toenail'" in str(err.value)
    with pytest.raises(ValueError, match="available"):
        datasets.load("cbpp")
    with pytest.raises(TypeError, match="available"):
        datasets.load(3)


def test_each_call_returns_a_fresh_copy():
    d = datasets.toenail()
    d.loc[0, "time"] = -1.0
    d["extra"] = 1
    again = datasets.toenail()
    assert again.loc[0, "time"] == 0.0 and "extra" not in again


# ----------------------------------------------------------------------------- against R


def _rscript_with(*packages: str) -> str:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found; install r-base-core r-cran-hsaur3 r-cran-mlmrev to "
                    "compare the shipped data with the R packages")
    probe = " && ".join(f'requireNamespace("{p}", quietly = TRUE)' for p in packages)
    ok = subprocess.run([rscript, "--vanilla", "-e", f"quit(status = if ({probe}) 0 else 3)"],
                        capture_output=True, timeout=120)
    if ok.returncode != 0:
        pytest.skip(f"R packages {', '.join(packages)} not installed (Debian: "
                    f"r-cran-hsaur3 r-cran-mlmrev)")
    return rscript


@pytest.fixture(scope="module")
def r_export(tmp_path_factory):
    rscript = _rscript_with("HSAUR3", "mlmRev")
    out = tmp_path_factory.mktemp("r_data")
    proc = subprocess.run([rscript, "--vanilla", str(ROOT / "tools" / "r_real_datasets.R"),
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("name", ["toenail", "contraception"])
def test_shipped_csv_matches_the_r_package(r_export, name):
    shipped = pd.read_csv(ROOT / "glmmteach" / "data" / f"{name}.csv", dtype=str,
                          keep_default_na=False)
    fresh = pd.read_csv(r_export / f"{name}.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(shipped, fresh)


def test_loader_values_match_r_directly():
    rscript = _rscript_with("HSAUR3", "mlmRev")
    code = (
        'data("toenail", package = "HSAUR3"); data("Contraception", package = "mlmRev"); '
        'cat(nrow(toenail), sum(toenail$outcome == "moderate or severe"), '
        'sprintf("%.17g", sum(toenail$time)), sum(toenail$treatment == "terbinafine"), '
        'nlevels(toenail$patientID), nrow(Contraception), sum(Contraception$use == "Y"), '
        'sum(Contraception$urban == "Y"), sum(Contraception$livch == "3+"), '
        'sprintf("%.17g", sum(Contraception$age)), nlevels(Contraception$district))')
    out = subprocess.run([rscript, "--vanilla", "-e", code], capture_output=True, text=True,
                         timeout=120).stdout.split()
    t, c = datasets.toenail(), datasets.contraception()
    ours = [len(t), int((t["outcome"] == "moderate or severe").sum()), t["time"].sum(),
            int((t["treatment"] == "terbinafine").sum()), t["patientID"].nunique(), len(c),
            int((c["use"] == "Y").sum()), int((c["urban"] == "Y").sum()),
            int((c["livch"] == "3+").sum()), c["age"].sum(), c["district"].nunique()]
    for k, (r, py) in enumerate(zip(out, ours, strict=True)):
        assert float(r) == pytest.approx(py, rel=1e-12, abs=1e-9), (k, r, py)


# ----------------------------------------------------------------------------- lme4


def _toenail():
    d = datasets.toenail()
    d["severe"] = (d["outcome"] == "moderate or severe").astype(int)
    return d


@pytest.fixture(scope="module")
def lme4_fits():
    require_lme4()
    toe = _toenail()[["severe", "treatment", "time", "patientID"]]
    con = datasets.contraception()
    specs = {
        "toenail_laplace": dict(data=toe, formula=TOENAIL_MODEL, nAGQ=1),
        "toenail_agq25": dict(data=toe, formula=TOENAIL_MODEL, nAGQ=25),
        "toenail_agq9": dict(data=toe, formula=TOENAIL_MODEL, nAGQ=9),
        "contraception_int": dict(data=con, formula=CONTRACEPTION_INT, nAGQ=1),
        "contraception_agq9": dict(data=con, formula=CONTRACEPTION_INT, nAGQ=9),
        "contraception_slope": dict(data=con, formula=CONTRACEPTION_SLOPE, nAGQ=1),
    }
    from roracle import Lme4Spec

    return fit_lme4_batch({k: Lme4Spec(control=TIGHT, **v) for k, v in specs.items()})


@pytest.mark.parametrize("name", ["toenail_laplace", "toenail_agq25", "toenail_agq9",
                                  "contraception_int", "contraception_agq9",
                                  "contraception_slope"])
def test_agrees_with_lme4(lme4_fits, name):
    r = lme4_fits[name]
    assert r.get("error") is None, r.get("error")
    data = _toenail() if name.startswith("toenail") else datasets.contraception()
    m = glmmteach.glmer(r["formula"], data, nAGQ=r["nAGQ"])
    # lme4's nAGQ > 1 logLik leaves out the saturated log-likelihood; on 0/1 data that is 0,
    # and loglik_full adds it back in any case
    assert r["loglik_saturated"] == pytest.approx(0.0, abs=1e-12)
    ref_ll = r["loglik_full"]
    assert m.loglik >= ref_ll - 1e-6, (m.loglik, ref_ll)
    assert m.loglik == pytest.approx(ref_ll, abs=1e-4)
    np.testing.assert_allclose(m.fixef.to_numpy(), r["fixef"][m.fixef.index].to_numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(m.theta), r["theta"].to_numpy(), rtol=1e-4,
                               atol=1e-4)
    # lme4's SEs come from a finite-difference Hessian (a few 1e-4 relative error)
    np.testing.assert_allclose(m.bse.to_numpy(), r["se"][m.bse.index].to_numpy(), rtol=3e-3)


def test_lesson07_laplace_is_biased_against_quadrature_as_in_lme4(lme4_fits):
    """The lesson's point, in lme4's numbers: Laplace overstates the patients' SD."""
    lap = lme4_fits["toenail_laplace"]["varcorr"]["sdcor"].iloc[0]
    agq = lme4_fits["toenail_agq25"]["varcorr"]["sdcor"].iloc[0]
    assert lap > agq + 0.4
    d = _toenail()
    ours = [glmmteach.glmer(TOENAIL_MODEL, d, nAGQ=k).varcorr["sdcor"].iloc[0] for k in (1, 25)]
    np.testing.assert_allclose(ours, [lap, agq], rtol=1e-4)
