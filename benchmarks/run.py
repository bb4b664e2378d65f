"""Time glmmteach.glmer against lme4 on the same data, in one run.

Usage (from the repository root)::

    python benchmarks/run.py                      # every default benchmark
    python benchmarks/run.py --skip-lme4-large    # ... without lme4 on (c) (~140 s of R)
    python benchmarks/run.py --only a,b           # a subset
    python benchmarks/run.py --json out.json      # also save the numbers

What is timed
-------------
* glmmteach: the full ``glmmteach.glmer(formula, data, ...)`` call in Python (formula parsing,
  design, fit, standard errors), ``time.perf_counter``, best of ``repeats`` (3 for the fast
  cases). Large cases run in a fresh Python subprocess that also reports its peak resident
  memory (see below).
* lme4: ``system.time(glmer(...))["elapsed"]`` inside R, best of the same number of repeats,
  so R's startup, loading lme4 and reading the CSV are excluded. All lme4 fits run in ONE
  ``Rscript`` call through ``tests/roracle.py``.

Peak memory (large cases): the child process generates the data, runs ONE ``glmer`` call and
reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the high-water mark of its resident
set: interpreter, numpy/pandas/scipy, the data, and the fit) before and after the fit. The
child reports its own figure instead of the parent reading ``RUSAGE_CHILDREN`` because the
parent's children also include Rscript, whose memory would be mixed in.

Extending: add a :class:`Benchmark` to ``BENCHMARKS``. Its ``glmmteach_task`` times the Python
side and ``lme4_options`` / ``lme4_time_key`` choose what is timed in R; benchmark ``d``
(profile intervals of the article's model) shows the pattern for a non-fit operation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from crosscheck_models import vegetables_data  # noqa: E402
from roracle import (  # noqa: E402
    LME4_MISSING_REASON,
    Lme4Error,
    Lme4Spec,
    fit_lme4_batch,
    lme4_available,
    lme4_versions,
)


class Unavailable(Exception):
    """The glmmteach side of a benchmark cannot run yet (the engine or a method is missing)."""


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def verbagg_like() -> pd.DataFrame:
    """VerbAgg's shape, simulated: 316 subjects x 24 items, every pair once (7,584 rows).

    Subject covariates Anger (integer 11..39) and Gender (F/M, about 3:1); item attributes
    btype (curse/scold/shout), situ (other/self) and mode (want/do). Parameters near lme4's
    fit of ``r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)`` on VerbAgg.
    """
    rng = np.random.default_rng(316024)
    n_id = 316
    anger = rng.integers(11, 40, size=n_id)
    gender = rng.choice(["F", "M"], size=n_id, p=[243 / 316, 73 / 316])
    items = [
        (f"S{s}{mode.capitalize()}{btype.capitalize()}", btype, "other" if s <= 2 else "self", mode)
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
    eta = (
        -1.1
        + 0.057 * anger[id_codes]
        + 0.32 * (gender[id_codes] == "M")
        - 1.06 * (btype == "scold")
        - 2.10 * (btype == "shout")
        - 1.05 * (situ == "self")
        + u_id[id_codes]
        + u_item[item_codes]
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
            "id": pd.Categorical.from_codes(id_codes, categories=[str(i + 1) for i in range(n_id)]),
            "item": pd.Categorical.from_codes(item_codes, categories=[it[0] for it in items]),
        }
    )


def million_rows() -> pd.DataFrame:
    """1,000,000 rows of 0/1 data in 100,000 groups of 10; intercept SD 1."""
    rng = np.random.default_rng(1_000_000)
    n_groups, per = 100_000, 10
    g = np.repeat(np.arange(1, n_groups + 1), per)
    x = rng.normal(size=g.size)
    b = rng.normal(0.0, 1.0, size=n_groups)
    y = (rng.random(g.size) < expit(-0.5 + 0.7 * x + b[g - 1])).astype(np.int64)
    return pd.DataFrame({"y": y, "x": x, "g": g})


# --------------------------------------------------------------------------------------------
# The benchmark table
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class TaskResult:
    """What a glmmteach task measured."""

    times: list[float]
    loglik: float | None = None
    estimates: dict[str, float] | None = None  # fixed effects and theta[i], for the sanity line
    rss_before_mb: float | None = None
    peak_rss_mb: float | None = None


def _glmmteach():
    try:
        import glmmteach
    except ImportError as exc:
        raise Unavailable(f"glmmteach not importable: {exc}") from exc
    if not callable(getattr(glmmteach, "glmer", None)):
        raise Unavailable("glmmteach.glmer not available yet")
    return glmmteach


def _glmer_kwargs(glmmteach: Any, bench: Benchmark) -> dict[str, Any]:
    family = "binomial" if bench.link == "logit" else glmmteach.binomial(link=bench.link)
    kwargs: dict[str, Any] = {"family": family, "nAGQ": bench.nAGQ}
    if bench.weights is not None:
        kwargs["weights"] = bench.weights
    return kwargs


def time_glmer(bench: Benchmark, data: pd.DataFrame, repeats: int) -> TaskResult:
    """Time the full ``glmmteach.glmer`` call; best of ``repeats``."""
    glmmteach = _glmmteach()
    kwargs = _glmer_kwargs(glmmteach, bench)
    times, m = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        m = glmmteach.glmer(bench.formula, data, **kwargs)
        times.append(time.perf_counter() - t0)
    return TaskResult(times=times, loglik=float(m.loglik), estimates=_estimates(m))


def _estimates(m: Any) -> dict[str, float]:
    out = {str(k): float(v) for k, v in m.fixef.items()}
    out.update({f"theta[{i}]": float(t) for i, t in enumerate(np.ravel(m.theta))})
    return out


def _lme4_estimates(ref: dict[str, Any]) -> dict[str, float]:
    out = {str(k): float(v) for k, v in ref["fixef"].items()}
    out.update({f"theta[{i}]": float(t) for i, t in enumerate(ref["theta"])})
    return out


def _estimate_diff(ours: dict[str, float] | None, ref: dict[str, float] | None) -> str | None:
    """'max |difference| ...' over the shared parameters, or None."""
    if not ours or not ref:
        return None
    shared = [k for k in ref if k in ours]
    if not shared:
        return f"no shared parameter names: ours {list(ours)}, lme4 {list(ref)}"
    worst = max(shared, key=lambda k: abs(ours[k] - ref[k]))
    return (
        f"estimates: max |glmmteach - lme4| = {abs(ours[worst] - ref[worst]):.1e} "
        f"({worst}: {ours[worst]:.6g} vs {ref[worst]:.6g}) over {len(shared)} parameters"
    )


def time_profile_intervals(bench: Benchmark, data: pd.DataFrame, repeats: int) -> TaskResult:
    """Time ``m.confint(method="profile")`` alone: profile intervals of every parameter.

    The R side times ``confint(m, method = "profile", oldNames = FALSE)`` on the same fit.
    """
    glmmteach = _glmmteach()
    m = glmmteach.glmer(bench.formula, data, **_glmer_kwargs(glmmteach, bench))
    if not callable(getattr(m, "confint", None)):
        raise Unavailable("the fitted model has no confint() yet")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        m.confint(method="profile")
        times.append(time.perf_counter() - t0)
    return TaskResult(times=times, loglik=float(m.loglik))


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One row of the benchmark table.

    ``glmmteach_task(bench, data, repeats) -> TaskResult`` times the Python side;
    ``lme4_options`` are extra :class:`roracle.Lme4Spec` fields and ``lme4_time_key`` the
    result key timed in R (``"elapsed"`` = the glmer call, ``"confint_elapsed"`` = confint).
    ``large`` runs glmmteach in a fresh subprocess (peak memory) and makes lme4 skippable
    with ``--skip-lme4-large``.
    """

    key: str
    title: str
    make_data: Callable[[], pd.DataFrame]
    formula: str
    target_ratio: float
    groups: str
    nAGQ: int = 1
    weights: str | None = None
    link: str = "logit"
    repeats: int = 3
    large: bool = False
    max_memory_gb: float | None = None
    default: bool = True
    glmmteach_task: Callable[[Benchmark, pd.DataFrame, int], TaskResult] = time_glmer
    lme4_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    lme4_time_key: str = "elapsed"


BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        Benchmark(
            key="a",
            title="article: vegetables",
            make_data=vegetables_data,
            formula="y ~ trt * sex + (1 | id)",
            target_ratio=10.0,
            groups="id 250",
        ),
        Benchmark(
            key="b",
            title="VerbAgg-shaped crossed",
            make_data=verbagg_like,
            formula="r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
            target_ratio=1.0,
            groups="id 316 x item 24",
        ),
        Benchmark(
            key="c",
            title="1e6 rows, 1e5 groups",
            make_data=million_rows,
            formula="y ~ x + (1 | g)",
            target_ratio=10.0,
            groups="g 100,000",
            repeats=1,
            large=True,
            max_memory_gb=2.0,
        ),
        Benchmark(
            key="d",
            title="profile intervals (article)",
            make_data=vegetables_data,
            formula="y ~ trt * sex + (1 | id)",
            target_ratio=10.0,
            groups="id 250",
            repeats=3,
            glmmteach_task=time_profile_intervals,
            lme4_options={"confint": "profile"},
            lme4_time_key="confint_elapsed",
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def _child(key: str, repeats: int) -> None:
    """Run one glmmteach task in this (fresh) process; print one JSON line."""
    bench = BENCHMARKS[key]
    data = bench.make_data()
    rss_before = _maxrss_mb()
    try:
        result = bench.glmmteach_task(bench, data, repeats)
    except Unavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        return
    result.rss_before_mb = rss_before
    result.peak_rss_mb = _maxrss_mb()
    print(json.dumps(dataclasses.asdict(result)))


def _run_glmmteach(bench: Benchmark, data: pd.DataFrame, repeats: int) -> TaskResult | str:
    """A TaskResult, or a string saying why glmmteach could not run."""
    if not bench.large:
        try:
            return bench.glmmteach_task(bench, data, repeats)
        except Unavailable as exc:
            return str(exc)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", bench.key]
    cmd += ["--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return f"glmmteach subprocess failed:\n{proc.stderr[-2000:]}"
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    if "unavailable" in payload:
        return payload["unavailable"]
    return TaskResult(**payload)


def _fmt_time(t: float | None) -> str:
    if t is None:
        return "n/a"
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated keys, e.g. a,b (default: all defaults)")
    parser.add_argument(
        "--skip-lme4-large", action="store_true", help="do not run lme4 on the large cases"
    )
    parser.add_argument("--no-lme4", action="store_true", help="time glmmteach only")
    parser.add_argument("--repeats", type=int, help="override every benchmark's repeat count")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        bench = BENCHMARKS[args.child]
        _child(args.child, args.repeats or bench.repeats)
        return 0

    if args.only:
        keys = [k.strip() for k in args.only.split(",") if k.strip()]
        unknown = [k for k in keys if k not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    else:
        keys = [k for k, b in BENCHMARKS.items() if b.default]
    selected = [BENCHMARKS[k] for k in keys]

    versions = lme4_versions() if not args.no_lme4 else None
    try:
        import glmmteach

        gt_version = getattr(glmmteach, "__version__", "?")
    except ImportError:
        gt_version = "not importable"
    print(
        f"glmmteach {gt_version} | Python {platform.python_version()}, numpy {np.__version__} | "
        + (f"R {versions['R']}, lme4 {versions['lme4']}" if versions else "lme4: not run")
        + f" | {os.cpu_count()} CPUs, {platform.machine()}"
    )

    datasets: dict[str, pd.DataFrame] = {}
    ours: dict[str, TaskResult | str] = {}
    for bench in selected:
        repeats = args.repeats or bench.repeats
        print(f"[{bench.key}] {bench.title}: data ...", end=" ", flush=True)
        datasets[bench.key] = bench.make_data()
        print(f"{len(datasets[bench.key]):,} rows; glmmteach ...", end=" ", flush=True)
        ours[bench.key] = _run_glmmteach(bench, datasets[bench.key], repeats)
        res = ours[bench.key]
        print(_fmt_time(min(res.times)) if isinstance(res, TaskResult) else f"n/a ({res})")

    theirs: dict[str, dict[str, Any] | str] = {}
    if args.no_lme4:
        theirs = dict.fromkeys(keys, "not run (--no-lme4)")
    elif not lme4_available():
        theirs = dict.fromkeys(keys, LME4_MISSING_REASON)
    else:
        specs = {}
        for bench in selected:
            if bench.large and args.skip_lme4_large:
                theirs[bench.key] = "skipped (--skip-lme4-large)"
                continue
            specs[bench.key] = Lme4Spec(
                data=datasets[bench.key],
                formula=bench.formula,
                nAGQ=bench.nAGQ,
                weights=bench.weights,
                link=bench.link,
                repeats=args.repeats or bench.repeats,
                **bench.lme4_options,
            )
        if specs:
            print(f"lme4: fitting {', '.join(specs)} in one Rscript call ...", flush=True)
            try:
                fits = fit_lme4_batch(specs, timeout=None)
            except Lme4Error as exc:
                fits = {k: {"error": str(exc)} for k in specs}
            for key in specs:
                theirs[key] = fits[key] if fits[key]["error"] is None else fits[key]["error"]

    rows = []
    for bench in selected:
        res, ref = ours[bench.key], theirs[bench.key]
        t_ours = min(res.times) if isinstance(res, TaskResult) else None
        t_lme4 = ref[bench.lme4_time_key] if isinstance(ref, dict) else None
        ll_ours = res.loglik if isinstance(res, TaskResult) else None
        ll_lme4 = ref["loglik_full"] if isinstance(ref, dict) else None
        ratio = t_lme4 / t_ours if t_ours and t_lme4 is not None else None
        met = None if ratio is None else ratio >= bench.target_ratio
        peak_gb = (
            res.peak_rss_mb / 1024 if isinstance(res, TaskResult) and res.peak_rss_mb else None
        )
        if bench.max_memory_gb is not None and peak_gb is not None and met is not None:
            met = met and peak_gb <= bench.max_memory_gb
        rows.append(
            {
                "key": bench.key,
                "title": bench.title,
                "formula": bench.formula,
                "rows": len(datasets[bench.key]),
                "groups": bench.groups,
                "glmmteach_s": t_ours,
                "glmmteach_all_s": res.times if isinstance(res, TaskResult) else None,
                "lme4_s": t_lme4,
                "lme4_all_s": ref.get("elapsed_all") if isinstance(ref, dict) else None,
                "ratio": ratio,
                "target_ratio": bench.target_ratio,
                "peak_rss_gb": peak_gb,
                "rss_before_fit_gb": (
                    res.rss_before_mb / 1024
                    if isinstance(res, TaskResult) and res.rss_before_mb
                    else None
                ),
                "max_memory_gb": bench.max_memory_gb,
                "target_met": met,
                "loglik_glmmteach": ll_ours,
                "loglik_lme4": ll_lme4,
                "glmmteach_note": None if isinstance(res, TaskResult) else res,
                "lme4_note": None if isinstance(ref, dict) else ref,
                "lme4_convergence": (
                    ref.get("convergence_problems") if isinstance(ref, dict) else None
                ),
                "estimates_note": _estimate_diff(
                    res.estimates if isinstance(res, TaskResult) else None,
                    _lme4_estimates(ref) if isinstance(ref, dict) else None,
                ),
            }
        )
    _print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"versions": versions, "rows": rows}, indent=2))
        print(f"wrote {args.json}")
    return 0


def _print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'':2} {'benchmark':28} {'rows':>10} {'groups':>17} {'glmmteach':>10} {'lme4':>10} "
        f"{'lme4/ours':>9} {'target':>7} {'met':>4} {'logLik glmmteach':>17} {'logLik lme4':>17} "
        f"{'diff':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        diff = (
            r["loglik_glmmteach"] - r["loglik_lme4"]
            if r["loglik_glmmteach"] is not None and r["loglik_lme4"] is not None
            else None
        )
        met = "n/a" if r["target_met"] is None else ("yes" if r["target_met"] else "NO")
        print(
            f"{r['key']:2} {r['title'][:28]:28} {r['rows']:>10,} {r['groups']:>17} "
            f"{_fmt_time(r['glmmteach_s']):>10} {_fmt_time(r['lme4_s']):>10} "
            f"{_fmt(r['ratio'], '.1f') + ('x' if r['ratio'] else ''):>9} "
            f"{'>=' + format(r['target_ratio'], 'g') + 'x':>7} {met:>4} "
            f"{_fmt(r['loglik_glmmteach'], '.5f'):>17} {_fmt(r['loglik_lme4'], '.5f'):>17} "
            f"{_fmt(diff, '+.1e'):>9}"
        )
    print()
    for r in rows:
        if r["max_memory_gb"] is not None:
            if r["peak_rss_gb"] is None:
                print(f"({r['key']}) glmmteach peak memory: n/a")
            else:
                ok = "yes" if r["peak_rss_gb"] <= r["max_memory_gb"] else "NO"
                print(
                    f"({r['key']}) glmmteach peak memory {r['peak_rss_gb']:.2f} GB (target <= "
                    f"{r['max_memory_gb']:g} GB: {ok}); {r['rss_before_fit_gb']:.2f} GB before "
                    "the fit. Peak RSS (ru_maxrss) of a fresh Python process that built the data "
                    "and ran one glmer call."
                )
        for what in ("glmmteach_note", "lme4_note"):
            if r[what]:
                print(f"({r['key']}) {what.split('_')[0]}: {r[what]}")
        if r["estimates_note"]:
            print(f"({r['key']}) {r['estimates_note']}")
        if r["lme4_convergence"]:
            print(f"({r['key']}) lme4 convergence warnings: {r['lme4_convergence']}")
    print(
        "Times: glmmteach = full glmer() call in Python; lme4 = system.time(glmer(...)) inside R"
        " (startup and data loading excluded); best of the repeats shown in --json."
    )


if __name__ == "__main__":
    sys.exit(main())
