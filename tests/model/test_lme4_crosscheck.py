"""Cross-check ``glmmteach.glmer`` against lme4, run live through ``Rscript``.

Every case of ``tests/crosscheck_models.py`` is fitted by glmmteach and by lme4 in the same
test run (lme4: all cases in ONE Rscript call, a session fixture). The comparison:

* fixed effects, SDs, correlations and theta within 2e-3 relative (1e-4 absolute near 0);
* standard errors within 1 % of lme4's (lme4's default ``vcov``: finite-difference Hessian);
* our log-likelihood >= lme4's - 1e-4, and not above it by more than 1e-3 when the
  estimates agree (for nAGQ > 1 after adding back the saturated binomial log-likelihood that
  lme4's AGQ objective leaves out; for nAGQ = 0, which is not a maximum of the likelihood,
  within 1e-2 both ways);
* names (columns, groups, terms), nobs, df_resid, and AIC / BIC / deviance computed from our
  logLik with lme4's parameter count.

Where lme4 flags a convergence problem, our estimates may differ provided our logLik is
higher; the test then passes with a ``UserWarning`` that says so.

The R-only tests (``test_lme4_*``) run whenever R is present, even before glmmteach.glmer
exists: they keep the cases honest (lme4 converges; singular only where intended; estimates
near the simulation's truth; equivalent spellings give equal fits).

No test asserts on time.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from crosscheck_models import CASES, CASES_BY_NAME, MIRROR_PAIRS, SAME_FIT_PAIRS
from roracle import fit_lme4_batch, require_lme4

RTOL = 2e-3  # estimates (fixed effects, SDs, correlations, theta): relative ...
ATOL = 1e-4  # ... or absolute, near 0
SE_RTOL = 1e-2  # standard errors
LOGLIK_SLACK = 1e-4  # ours >= lme4's - LOGLIK_SLACK
LOGLIK_EXCESS = 1e-3  # ... and, when the estimates agree, ours <= lme4's + LOGLIK_EXCESS
NAGQ0_LOGLIK_ATOL = 1e-2  # nAGQ = 0: |ours - lme4's|
PAIR_RTOL, PAIR_ATOL, PAIR_LOGLIK_ATOL = 1e-5, 1e-6, 1e-6  # equivalent spellings, same fitter

CASE_IDS = [case.name for case in CASES]
PREDICT_CASES = [case for case in CASES if case.make_newdata is not None]


# --------------------------------------------------------------------------------------------
# Fixtures and fitting
# --------------------------------------------------------------------------------------------


def _require_glmer():
    import glmmteach

    if not callable(getattr(glmmteach, "glmer", None)):
        pytest.skip("glmmteach.glmer not available yet")
    return glmmteach


@pytest.fixture(scope="session")
def lme4_fits() -> dict[str, Any]:
    """lme4's result for every case, from one Rscript run (a few seconds).

    Each Laplace/AGQ case is fitted twice: with lme4's defaults, and with
    ``glmerControl(tolPwrss = 1e-12)`` (key ``"<name>@tight"``). lme4's default PIRLS
    tolerance (1e-7, relative) leaves its conditional modes, hence its Laplace deviance,
    inexact by up to a few 1e-4 (non-canonical links, large data); the tight fit evaluates
    the same objective exactly and is the reference for "our logLik is never below lme4's".
    """
    require_lme4()
    specs = [case.lme4_spec(gc_first=False) for case in CASES]
    for case in CASES:
        if case.nAGQ != 0 or case.tight_reference:
            tight = case.lme4_spec(gc_first=False)
            tight = dataclasses.replace(tight, name=f"{case.name}@tight",
                                        control="glmerControl(tolPwrss = 1e-12)",
                                        predict=False, newdata=None)
            specs.append(tight)
    return fit_lme4_batch(specs)


@pytest.fixture(scope="session")
def glmer_fits() -> dict[str, Any]:
    """Cache of glmmteach fits by case name, filled on first use."""
    return {}


def _lme4(lme4_fits: dict[str, Any], name: str) -> dict[str, Any]:
    ref = lme4_fits[name]
    assert ref["error"] is None, f"lme4 failed on case {name!r}: {ref['error']}"
    return ref


def _ours(glmmteach: Any, glmer_fits: dict[str, Any], name: str) -> Any:
    if name not in glmer_fits:
        case = CASES_BY_NAME[name]
        kwargs = case.glmer_kwargs(glmmteach)
        if case.expect_singular:
            from glmmteach.warnings import SingularFitWarning

            with pytest.warns(SingularFitWarning):
                glmer_fits[name] = glmmteach.glmer(case.formula, case.data(), **kwargs)
        else:
            glmer_fits[name] = glmmteach.glmer(case.formula, case.data(), **kwargs)
    return glmer_fits[name]


# --------------------------------------------------------------------------------------------
# Comparison helpers: each returns a list of human-readable problems
# --------------------------------------------------------------------------------------------


def _close(ours: float, ref: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return bool(np.isfinite(ours)) and abs(ours - ref) <= max(rtol * abs(ref), atol)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _norm_str(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _compare_named(
    label: str, ours: pd.Series, ref: pd.Series, rtol: float, atol: float, extra: str = ""
) -> list[str]:
    if list(ours.index) != list(ref.index):
        return [f"{label} names {list(ours.index)} != lme4's {list(ref.index)}"]
    out = []
    for name in ref.index:
        o, r = float(ours[name]), float(ref[name])
        if not _close(o, r, rtol, atol):
            rel = abs(o - r) / max(abs(r), 1e-300)
            out.append(f"{label}[{name}] = {o:.7g}, lme4 {r:.7g} (rel diff {rel:.2e}){extra}")
    return out


def _estimate_problems(m: Any, ref: dict[str, Any]) -> list[str]:
    """Fixed effects, theta, varcorr: the optimum itself."""
    problems = _compare_named("fixef", m.fixef, ref["fixef"], RTOL, ATOL)
    theta = np.asarray(m.theta, dtype=float).ravel()
    ref_theta = ref["theta"].to_numpy()
    if theta.shape != ref_theta.shape:
        problems.append(f"theta has {theta.size} entries, lme4 {ref_theta.size}")
    else:
        for i, (o, r) in enumerate(zip(theta, ref_theta, strict=True)):
            if not _close(o, r):
                problems.append(f"theta[{i}] ({ref['theta'].index[i]}) = {o:.7g}, lme4 {r:.7g}")
    vc, ref_vc = m.varcorr, ref["varcorr"]
    missing_cols = {"grp", "var1", "var2", "vcov", "sdcor"} - set(vc.columns)
    if missing_cols:
        return problems + [f"varcorr lacks columns {sorted(missing_cols)}"]
    if len(vc) != len(ref_vc):
        return problems + [f"varcorr has {len(vc)} rows, lme4 {len(ref_vc)}:\n{ref_vc}"]
    for i in range(len(ref_vc)):
        row, ref_row = vc.iloc[i], ref_vc.iloc[i]
        key = tuple(_norm_str(ref_row[c]) for c in ("grp", "var1", "var2"))
        ours_key = tuple(_norm_str(row[c]) for c in ("grp", "var1", "var2"))
        if ours_key != key:
            problems.append(f"varcorr row {i} is {ours_key}, lme4 {key}")
            continue
        what = "cor" if key[2] is not None else "sd"
        if not _close(float(row["sdcor"]), float(ref_row["sdcor"])):
            problems.append(
                f"varcorr {what} {key} = {float(row['sdcor']):.7g}, lme4 {ref_row['sdcor']:.7g}"
            )
        if not _close(float(row["vcov"]), float(ref_row["vcov"]), 2 * RTOL, ATOL):
            problems.append(
                f"varcorr vcov {key} = {float(row['vcov']):.7g}, lme4 {ref_row['vcov']:.7g}"
            )
    return problems


def _se_problems(m: Any, ref: dict[str, Any]) -> list[str]:
    rx = ", ".join(f"{k}: {v:.6g}" for k, v in ref["se_rx"].items())
    problems = _compare_named(
        "bse", m.bse, ref["se"], SE_RTOL, 0.0, extra=f" [lme4's RX-based SEs: {rx}]"
    )
    V = m.vcov
    names = list(ref["fixef"].index)
    if list(V.index) != names or list(V.columns) != names:
        return problems + [f"vcov labels {list(V.index)} / {list(V.columns)} != {names}"]
    Vo, Vr = V.to_numpy(dtype=float), ref["vcov"].to_numpy()
    if not np.allclose(np.sqrt(np.diag(Vo)), np.asarray(m.bse, dtype=float), rtol=1e-8):
        problems.append("bse is not sqrt(diag(vcov))")
    scale = np.sqrt(np.outer(np.diag(Vr), np.diag(Vr)))
    bad = np.abs(Vo - Vr) > 2 * SE_RTOL * scale
    for i, j in zip(*np.nonzero(bad), strict=True):
        if i < j:
            problems.append(f"vcov[{names[i]}, {names[j]}] = {Vo[i, j]:.6g}, lme4 {Vr[i, j]:.6g}")
    return problems


def _loglik_problems(case: Any, m: Any, ref: dict[str, Any],
                     tight: dict[str, Any] | None = None) -> list[str]:
    ll, ref_ll = float(m.loglik), ref["loglik_full"]
    if case.nAGQ == 0:
        if abs(ll - ref_ll) > NAGQ0_LOGLIK_ATOL:
            return [f"nAGQ = 0 logLik {ll:.6f}, lme4 {ref_ll:.6f} (differ by {ll - ref_ll:+.2e})"]
        return []
    if tight is not None and ll < tight["loglik_full"] - LOGLIK_SLACK:
        return [f"logLik {ll:.6f} < lme4's with tolPwrss = 1e-12 ({tight['loglik_full']:.6f})"]
    if ll >= ref_ll - LOGLIK_SLACK:
        return []
    if tight is not None and tight["loglik_full"] < ref_ll - LOGLIK_SLACK:
        # lme4's default value is an artefact of its PIRLS tolerance: with exact conditional
        # modes lme4 itself reaches our value (checked just above), not its default one.
        warnings.warn(
            f"case {case.name!r}: lme4's default logLik {ref_ll:.6f} exceeds its exact value "
            f"{tight['loglik_full']:.6f} (tolPwrss = 1e-12); ours {ll:.6f} matches the exact "
            "one", UserWarning, stacklevel=2)
        return []
    msg = f"logLik {ll:.6f} < lme4's {ref_ll:.6f} by {ref_ll - ll:.2e}"
    if case.nAGQ > 1:
        msg += (
            f" (lme4's own logLik {ref['loglik']:.6f} leaves out the saturated log-likelihood "
            f"{ref['loglik_saturated']:.6f}; the comparison adds it back"
        )
        if abs(ll - ref["loglik"]) < 1e-3:
            msg += "; ours equals lme4's raw value, so ours leaves it out too"
        msg += ")"
    return [msg]


def _summary_problems(m: Any, ref: dict[str, Any]) -> list[str]:
    problems = []
    if int(m.nobs) != ref["nobs"]:
        problems.append(f"nobs {m.nobs} != lme4 {ref['nobs']}")
    if int(m.df_resid) != ref["df_resid"]:
        problems.append(f"df_resid {m.df_resid} != lme4 {ref['df_resid']}")
    ll, k, n = float(m.loglik), ref["df"], ref["nobs"]
    expected = {
        "deviance (-2 logLik)": (m.deviance, -2 * ll),
        f"aic (-2 logLik + 2 * {k})": (m.aic, -2 * ll + 2 * k),
        f"bic (-2 logLik + log({n}) * {k})": (m.bic, -2 * ll + math.log(n) * k),
    }
    for label, (value, target) in expected.items():
        if not math.isclose(float(value), target, rel_tol=1e-9, abs_tol=1e-8):
            problems.append(f"{label}: {float(value):.8f}, expected {target:.8f}")
    return problems


def _report(case: Any, ref: dict[str, Any], m: Any, problems: list[str]) -> str:
    lines = [f"case {case.name!r}: {case.formula} (nAGQ={case.nAGQ}, link={case.link})"]
    lines += [f"  - {p}" for p in problems]
    lines.append(
        f"  logLik ours {float(m.loglik):.6f}, lme4 {ref['loglik_full']:.6f}; "
        f"lme4 stopped short: {ref['stopped_short']} {ref['convergence_problems']}"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# glmmteach against lme4
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_glmer_matches_lme4(case, request, glmer_fits):
    glmmteach = _require_glmer()
    fits = request.getfixturevalue("lme4_fits")
    ref = _lme4(fits, case.name)
    tight = (_lme4(fits, f"{case.name}@tight") if case.nAGQ != 0 or case.tight_reference
             else None)
    if case.tight_reference:
        ref = tight  # the issue-9 shapes: lme4 evaluating its objective exactly
    m = _ours(glmmteach, glmer_fits, case.name)

    estimates = _estimate_problems(m, ref) + _se_problems(m, ref)
    loglik = _loglik_problems(case, m, ref, tight)
    summary = _summary_problems(m, ref)
    ll_gain = float(m.loglik) - ref["loglik_full"]
    if estimates and ref["stopped_short"] and not loglik and ll_gain > 0:
        warnings.warn(
            _report(case, ref, m, estimates)
            + f"\n  accepted: lme4 stopped short and our logLik is higher by {ll_gain:.2e}",
            UserWarning,
            stacklevel=1,
        )
        estimates = []
    if not estimates and not loglik and case.nAGQ != 0 and ll_gain > LOGLIK_EXCESS:
        # Same optimum, higher likelihood: the likelihood itself differs (constants?).
        loglik = [
            f"logLik {float(m.loglik):.6f} exceeds lme4's {ref['loglik_full']:.6f} by "
            f"{ll_gain:.2e} although the estimates agree: is a constant term missing?"
            + (
                f" (lme4's AGQ value without the saturated log-likelihood: {ref['loglik']:.6f})"
                if case.nAGQ > 1
                else ""
            )
        ]
    problems = estimates + loglik + summary
    if problems and ref["stopped_short"]:
        problems.append(
            "lme4 flagged a convergence problem, so estimates may differ, but only when our "
            f"logLik is higher (it is {'higher' if ll_gain > 0 else 'not higher'}: "
            f"{ll_gain:+.2e})"
        )
    assert not problems, _report(case, ref, m, problems)


@pytest.mark.parametrize("case", PREDICT_CASES, ids=[c.name for c in PREDICT_CASES])
def test_predict_matches_lme4(case, request, glmer_fits):
    glmmteach = _require_glmer()
    ref = _lme4(request.getfixturevalue("lme4_fits"), case.name)
    m = _ours(glmmteach, glmer_fits, case.name)
    newdata = case.newdata()
    problems = []
    for where, nd, preds in (
        ("fitted rows", None, ref["predictions"]),
        ("newdata", newdata, ref["predictions_newdata"]),
    ):
        for (re_form, kind), expected in preds.items():
            extra = {} if nd is None else {"allow_new_levels": True}  # lme4: allow.new.levels
            got = np.asarray(
                m.predict(newdata=nd, re_form=re_form, type=kind, **extra), dtype=float
            )
            if got.shape != expected.shape:
                problems.append(f"{where} re_form={re_form} type={kind}: shape {got.shape}")
                continue
            if kind == "link":
                tol = 5e-3 * np.maximum(1.0, np.abs(expected))
            else:
                tol = np.full(expected.shape, 2e-3)
            bad = np.flatnonzero(~(np.abs(got - expected) <= tol))
            if bad.size:
                i = bad[0]
                problems.append(
                    f"{where} re_form={re_form} type={kind}: {bad.size} of {expected.size} differ,"
                    f" e.g. row {i}: {got[i]:.6g} vs lme4 {expected[i]:.6g}"
                )
    assert not problems, f"case {case.name!r} ({case.formula}):\n" + "\n".join(problems)


def _sorted_sdcor(m: Any) -> np.ndarray:
    return np.sort(np.asarray(m.varcorr["sdcor"], dtype=float))


@pytest.mark.parametrize("pair", SAME_FIT_PAIRS, ids=["=".join(p) for p in SAME_FIT_PAIRS])
def test_equivalent_spellings_give_the_same_fit(pair, glmer_fits):
    glmmteach = _require_glmer()
    a, b = (_ours(glmmteach, glmer_fits, name) for name in pair)
    assert list(a.fixef.index) == list(b.fixef.index)
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=PAIR_RTOL, atol=PAIR_ATOL)
    np.testing.assert_allclose(_sorted_sdcor(b), _sorted_sdcor(a), rtol=PAIR_RTOL, atol=PAIR_ATOL)
    assert float(b.loglik) == pytest.approx(float(a.loglik), abs=PAIR_LOGLIK_ATOL)


@pytest.mark.parametrize("pair", MIRROR_PAIRS, ids=["~".join(p) for p in MIRROR_PAIRS])
def test_swapped_response_levels_mirror_the_fit(pair, glmer_fits):
    glmmteach = _require_glmer()
    a, b = (_ours(glmmteach, glmer_fits, name) for name in pair)
    np.testing.assert_allclose(
        -b.fixef.to_numpy(), a.fixef.to_numpy(), rtol=PAIR_RTOL, atol=PAIR_ATOL
    )
    np.testing.assert_allclose(_sorted_sdcor(b), _sorted_sdcor(a), rtol=PAIR_RTOL, atol=PAIR_ATOL)
    assert float(b.loglik) == pytest.approx(float(a.loglik), abs=PAIR_LOGLIK_ATOL)


# --------------------------------------------------------------------------------------------
# R only: the cases are well posed
# --------------------------------------------------------------------------------------------


def _sd_rows(ref: dict[str, Any], key: str) -> pd.DataFrame:
    vc = ref["varcorr"]
    is_sd = vc["var2"].map(_missing)
    return vc[is_sd & ((vc["grp"] == key) | (vc["var1"] == key))]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_lme4_fits_case_sensibly(case, lme4_fits):
    ref = _lme4(lme4_fits, f"{case.name}@tight" if case.tight_reference else case.name)
    assert ref["is_singular"] == case.expect_singular, (
        f"lme4 isSingular = {ref['is_singular']} on {case.name!r}, expected "
        f"{case.expect_singular}: {ref['varcorr']}"
    )
    assert not ref["stopped_short"], (
        f"lme4 flags a convergence problem on {case.name!r}: {ref['convergence_problems']}; "
        "the case should be well identified (more groups, moderate SDs?)"
    )
    for name, value in case.truth.get("fixef", {}).items():
        est, se = ref["fixef"][name], ref["se"][name]
        assert abs(est - value) < 4 * se, (
            f"{case.name}: {name} = {est:.3f} +- {se:.3f}, true {value}"
        )
    for key, value in case.truth.get("sd", {}).items():
        rows = _sd_rows(ref, key)
        assert len(rows) == 1, f"{case.name}: no single SD row for {key!r} in\n{ref['varcorr']}"
        est = float(rows["sdcor"].iloc[0])
        if value == 0:
            assert est < 1e-4, f"{case.name}: SD {key} = {est}, true 0"
        else:
            assert value / 2 < est < 2 * value, f"{case.name}: SD {key} = {est:.3f}, true {value}"


@pytest.mark.parametrize("pair", SAME_FIT_PAIRS, ids=["=".join(p) for p in SAME_FIT_PAIRS])
def test_lme4_equivalent_spellings_agree(pair, lme4_fits):
    a, b = (_lme4(lme4_fits, name) for name in pair)
    np.testing.assert_allclose(b["fixef"], a["fixef"], rtol=1e-4, atol=1e-6)
    assert b["loglik_full"] == pytest.approx(a["loglik_full"], abs=1e-6)


@pytest.mark.parametrize("pair", MIRROR_PAIRS, ids=["~".join(p) for p in MIRROR_PAIRS])
def test_lme4_swapped_response_levels_mirror(pair, lme4_fits):
    a, b = (_lme4(lme4_fits, name) for name in pair)
    np.testing.assert_allclose(-b["fixef"].to_numpy(), a["fixef"].to_numpy(), rtol=1e-4, atol=1e-6)
    assert b["loglik_full"] == pytest.approx(a["loglik_full"], abs=1e-6)
