"""Time glmmteach.glmer against lme4 and glmmTMB on the same data, in one run.

Usage (from the repository root)::

    python benchmarks/run.py                      # every default benchmark
    python benchmarks/run.py --quick              # the fast ones, one repeat each
    python benchmarks/run.py --only toenail_agq20 # one (or a comma-separated list)
    python benchmarks/run.py --list               # the benchmark keys
    python benchmarks/run.py --skip-peers-large   # no lme4/glmmTMB on the large cases
    python benchmarks/run.py --json out.json      # also save the numbers

What is timed
-------------
* glmmteach: the full ``glmmteach.glmer(formula, data, ...)`` call in Python (formula parsing,
  design, fit, standard errors), ``time.perf_counter``, best of ``repeats``. Large cases run
  in a fresh Python subprocess that also reports its peak resident memory (see below).
* lme4: ``system.time(glmer(...))["elapsed"]`` inside R with lme4's defaults, best of the
  same number of repeats, so R's startup, loading lme4 and reading the CSV are excluded. All
  lme4 fits run in ONE ``Rscript`` call through ``tests/roracle.py``.
* glmmTMB: the same, ``system.time(glmmTMB(...))``, in one more ``Rscript`` call
  (``benchmarks/peers.py``), for the models glmmTMB fits (the Laplace approximation; it has
  no ``nAGQ = 0`` or adaptive quadrature).

Peak memory (large cases): the child process generates the data, runs ONE ``glmer`` call and
reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the high-water mark of its resident
set: interpreter, numpy/pandas/scipy, the data, and the fit) before and after the fit. The
child reports its own figure instead of the parent reading ``RUSAGE_CHILDREN`` because the
parent's children also include Rscript, whose memory would be mixed in.

Targets (issue 9): faster than lme4 on every model, at least 10x where lme4 takes a second
or more, 15x on the article's model; faster than glmmTMB on every model it fits.

Extending: add a :class:`Benchmark` to ``BENCHMARKS``. Its ``glmmteach_task`` times the Python
side and ``lme4_options`` / ``lme4_time_key`` choose what is timed in R; benchmark
``profile`` (profile intervals of the article's model) shows the pattern for a non-fit
operation.
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
HERE = Path(__file__).resolve().parent
for _p in (TESTS, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import shapes  # noqa: E402
from crosscheck_models import vegetables_data  # noqa: E402
from peers import (  # noqa: E402
    GLMMTMB_MISSING_REASON,
    TmbSpec,
    fit_glmmtmb_batch,
    glmmtmb_available,
    glmmtmb_version,
)
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
    if bench.control is not None:
        kwargs["control"] = bench.control
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
    confint = getattr(m, "confint", None) or getattr(glmmteach, "confint", None)
    if not callable(confint):
        raise Unavailable("neither m.confint() nor glmmteach.confint() exists")
    args = () if confint is getattr(m, "confint", None) else (m,)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        confint(*args, method="profile")
        times.append(time.perf_counter() - t0)
    return TaskResult(times=times, loglik=float(m.loglik))


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One row of the benchmark table.

    ``glmmteach_task(bench, data, repeats) -> TaskResult`` times the Python side;
    ``lme4_options`` are extra :class:`roracle.Lme4Spec` fields and ``lme4_time_key`` the
    result key timed in R (``"elapsed"`` = the glmer call, ``"confint_elapsed"`` = confint).
    ``large`` runs glmmteach in a fresh subprocess (peak memory) and makes the peers
    skippable with ``--skip-peers-large``. ``target_ratio`` is the lme4 / glmmteach target;
    ``None`` means issue 9's rule: 10 where lme4 takes >= 1 s, else 1. ``quick`` marks the
    benchmarks of ``--quick``.
    """

    key: str
    title: str
    make_data: Callable[[], pd.DataFrame]
    formula: str
    groups: str
    target_ratio: float | None = None
    nAGQ: int = 1
    weights: str | None = None
    link: str = "logit"
    control: dict[str, Any] | None = None
    repeats: int = 3
    large: bool = False
    max_memory_gb: float | None = None
    default: bool = True
    quick: bool = True
    aliases: tuple[str, ...] = ()
    glmmteach_task: Callable[[Benchmark, pd.DataFrame, int], TaskResult] = time_glmer
    lme4_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    lme4_time_key: str = "elapsed"

    @property
    def glmmtmb(self) -> bool:
        """glmmTMB fits this benchmark: a Laplace fit timed through glmer."""
        return self.nAGQ == 1 and self.glmmteach_task is time_glmer

    def lme4_target(self, t_lme4: float | None) -> float | None:
        if self.target_ratio is not None:
            return self.target_ratio
        if t_lme4 is None:
            return None
        return 10.0 if t_lme4 >= 1.0 else 1.0


_VERBAGG2 = "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"
_CONTRA = "use ~ age + I(age^2) + urban + livch + (1 | district)"

BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        Benchmark(
            key="article", aliases=("a",),
            title="article: vegetables",
            make_data=vegetables_data,
            formula="y ~ trt * sex + (1 | id)",
            target_ratio=15.0,
            groups="id 250",
        ),
        Benchmark(
            key="verbagg2", aliases=("b",),
            title="VerbAgg-shaped crossed",
            make_data=shapes.verbagg_like,
            formula=_VERBAGG2,
            groups="id 316 x item 24",
        ),
        Benchmark(
            key="verbagg3",
            title="VerbAgg-shaped, 3 terms",
            make_data=shapes.verbagg_like,
            formula=_VERBAGG2 + " + (1 | id:btype)",
            groups="+ id:btype 948",
            quick=False,
        ),
        Benchmark(
            key="schools",
            title="nested district/school",
            make_data=shapes.nested_schools,
            formula="y ~ x + z + (1 | district/school)",
            groups="130 / 2,400",
            repeats=1,
            quick=False,
        ),
        Benchmark(
            key="mothers",
            title="nested community/mother",
            make_data=shapes.nested_mothers,
            formula="y ~ x + z + (1 | community/mother)",
            groups="160 / 1,600",
        ),
        Benchmark(
            key="ri_nagq0",
            title="random intercept, nAGQ = 0",
            make_data=shapes.contraception_like,
            formula=_CONTRA,
            nAGQ=0,
            groups="district 102",
        ),
        Benchmark(
            key="f24_nagq0",
            title="24-level factor, nAGQ = 0",
            make_data=shapes.contraception_like,
            formula="use ~ age + urban + f24 + (1 | district)",
            nAGQ=0,
            groups="district 102",
        ),
        Benchmark(
            key="ri_agq7",
            title="random intercept, nAGQ = 7",
            make_data=shapes.contraception_like,
            formula=_CONTRA,
            nAGQ=7,
            groups="district 102",
        ),
        Benchmark(
            key="toenail_agq20",
            title="toenail-shaped, nAGQ = 20",
            make_data=shapes.toenail_like,
            formula="outcome ~ treatment * month + (1 | patient)",
            nAGQ=20,
            groups="patient 294",
        ),
        Benchmark(
            key="agq_many",
            title="1,200 groups, nAGQ = 9",
            make_data=shapes.agq_many_groups,
            formula="y ~ x + (1 | g)",
            nAGQ=9,
            groups="g 1,200",
        ),
        Benchmark(
            key="crossed_large",
            title="200k rows, 5,000 x 2,000 crossed",
            make_data=shapes.crossed_large,
            formula="y ~ x + (1 | a) + (1 | b)",
            groups="5,000 x 2,000",
            repeats=1,
            large=True,
            max_memory_gb=2.0,
            quick=False,
        ),
        Benchmark(
            key="million", aliases=("c",),
            title="1e6 rows, 1e5 groups",
            make_data=million_rows,
            formula="y ~ x + (1 | g)",
            groups="g 100,000",
            target_ratio=10.0,
            repeats=1,
            large=True,
            max_memory_gb=2.0,
            quick=False,
        ),
        Benchmark(
            key="profile", aliases=("d",),
            title="profile intervals (article)",
            make_data=vegetables_data,
            formula="y ~ trt * sex + (1 | id)",
            target_ratio=10.0,
            groups="id 250",
            repeats=3,
            quick=False,
            glmmteach_task=time_profile_intervals,
            lme4_options={"confint": "profile"},
            lme4_time_key="confint_elapsed",
        ),
    )
}
_ALIASES = {alias: b.key for b in BENCHMARKS.values() for alias in b.aliases}


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


def _resolve(keys: list[str], parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for k in keys:
        k = _ALIASES.get(k, k)
        if k not in BENCHMARKS:
            close = [c for c in BENCHMARKS if k in c or c in k]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            parser.error(f"unknown benchmark {k!r}{hint}; choose from {', '.join(BENCHMARKS)}")
        if k not in out:
            out.append(k)
    return out


def _peer_fits(selected, datasets, args) -> tuple[dict[str, Any], dict[str, Any]]:
    """lme4's and glmmTMB's results per key (a dict), or a string saying why not."""
    lme4: dict[str, Any] = {}
    tmb: dict[str, Any] = {}
    skip = "skipped (--skip-peers-large)"
    if args.no_lme4 or args.no_peers:
        lme4 = {b.key: "not run (--no-lme4)" for b in selected}
    elif not lme4_available():
        lme4 = {b.key: LME4_MISSING_REASON for b in selected}
    else:
        specs = {}
        for bench in selected:
            if bench.large and args.skip_peers_large:
                lme4[bench.key] = skip
                continue
            specs[bench.key] = Lme4Spec(
                data=datasets[bench.key], formula=bench.formula, nAGQ=bench.nAGQ,
                weights=bench.weights, link=bench.link,
                repeats=args.repeats or bench.repeats, **bench.lme4_options)
        batches = _peer_batches(specs, selected, args.peer_timeout)
        for batch, timeout in batches:
            print(f"lme4: fitting {', '.join(batch)} in one Rscript call"
                  + (f" (timeout {timeout:g} s)" if timeout else "") + " ...", flush=True)
            try:
                fits = fit_lme4_batch(batch, timeout=timeout)
            except Lme4Error as exc:
                if timeout and "timed out" in str(exc):
                    fits = {k: {"error": None, "timeout": timeout} for k in batch}
                else:
                    fits = {k: {"error": str(exc)} for k in batch}
            for key in batch:
                lme4[key] = fits[key] if fits[key]["error"] is None else fits[key]["error"]
    for bench in selected:
        if not bench.glmmtmb:
            tmb[bench.key] = "-"
    todo = [b for b in selected if b.glmmtmb]
    if args.no_glmmtmb or args.no_peers:
        tmb.update({b.key: "not run (--no-glmmtmb)" for b in todo})
    elif not glmmtmb_available():
        tmb.update({b.key: GLMMTMB_MISSING_REASON for b in todo})
    else:
        specs = {}
        for bench in todo:
            if bench.large and args.skip_peers_large:
                tmb[bench.key] = skip
                continue
            specs[bench.key] = TmbSpec(datasets[bench.key], bench.formula, link=bench.link,
                                       weights=bench.weights,
                                       repeats=args.repeats or bench.repeats)
        for batch, timeout in _peer_batches(specs, selected, args.peer_timeout):
            print(f"glmmTMB: fitting {', '.join(batch)} in one Rscript call"
                  + (f" (timeout {timeout:g} s)" if timeout else "") + " ...", flush=True)
            try:
                fits = fit_glmmtmb_batch(batch, timeout=timeout)
            except subprocess.TimeoutExpired:
                fits = {k: {"error": None, "timeout": timeout} for k in batch}
            for key in batch:
                tmb[key] = fits[key] if fits[key]["error"] is None else fits[key]["error"]
    return lme4, tmb


def _peer_batches(specs: dict, selected, timeout: float | None) -> list[tuple[dict, float | None]]:
    """Rscript calls to make: one for every case, or with ``--peer-timeout`` the large cases
    each in their own call with that timeout (a timed-out peer gives a lower bound)."""
    if not specs:
        return []
    if timeout is None:
        return [(specs, None)]
    large = {b.key for b in selected if b.large}
    small = {k: v for k, v in specs.items() if k not in large}
    out: list[tuple[dict, float | None]] = [(small, None)] if small else []
    out += [({k: v}, timeout) for k, v in specs.items() if k in large]
    return out


def _peer_time(ref, key: str) -> tuple[float | None, bool]:
    """A peer's time and whether it is only a lower bound (the peer timed out)."""
    if not isinstance(ref, dict):
        return None, False
    if ref.get("timeout"):
        return float(ref["timeout"]), True
    return ref[key], False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated keys, e.g. article,toenail_agq20")
    parser.add_argument("--quick", action="store_true",
                        help="only the fast benchmarks, one repeat each (with --only: one "
                        "repeat)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--skip-peers-large", "--skip-lme4-large", action="store_true",
                        dest="skip_peers_large",
                        help="do not run lme4 or glmmTMB on the large cases")
    parser.add_argument("--no-lme4", action="store_true", help="do not run lme4")
    parser.add_argument("--no-glmmtmb", action="store_true", help="do not run glmmTMB")
    parser.add_argument("--no-peers", action="store_true", help="time glmmteach only")
    parser.add_argument("--repeats", type=int, help="override every benchmark's repeat count")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--peer-timeout", type=float, metavar="SECONDS",
                        help="run lme4 and glmmTMB on each large case in its own Rscript call, "
                        "stopped after SECONDS; a stopped peer's time and ratio print as "
                        "lower bounds ('>')")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        bench = BENCHMARKS[args.child]
        _child(args.child, args.repeats or bench.repeats)
        return 0
    if args.list:
        for b in BENCHMARKS.values():
            alias = f" (alias {', '.join(b.aliases)})" if b.aliases else ""
            print(f"{b.key:14} {b.title:34} {b.formula}  nAGQ={b.nAGQ}{alias}")
        return 0
    if args.quick and args.repeats is None:
        args.repeats = 1
    if args.only:
        keys = _resolve([k.strip() for k in args.only.split(",") if k.strip()], parser)
    elif args.quick:
        keys = [k for k, b in BENCHMARKS.items() if b.default and b.quick]
    else:
        keys = [k for k, b in BENCHMARKS.items() if b.default]
    selected = [BENCHMARKS[k] for k in keys]

    versions = lme4_versions() if not (args.no_lme4 or args.no_peers) else None
    tmb_version = glmmtmb_version() if not (args.no_glmmtmb or args.no_peers) else None
    try:
        import glmmteach

        gt_version = getattr(glmmteach, "__version__", "?")
    except ImportError:
        gt_version = "not importable"
    print(
        f"glmmteach {gt_version} | Python {platform.python_version()}, numpy {np.__version__} | "
        + (f"R {versions['R']}, lme4 {versions['lme4']}" if versions else "lme4: not run")
        + (f", glmmTMB {tmb_version}" if tmb_version else ", glmmTMB: not run")
        + f" | {os.cpu_count()} CPUs, {platform.machine()}"
    )
    if not args.no_peers:
        _warm_up()

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

    theirs, tmb = _peer_fits(selected, datasets, args)

    rows = []
    for bench in selected:
        res, ref, tref = ours[bench.key], theirs[bench.key], tmb[bench.key]
        t_ours = min(res.times) if isinstance(res, TaskResult) else None
        t_lme4, lme4_lb = _peer_time(ref, bench.lme4_time_key)
        t_tmb, tmb_lb = _peer_time(tref, "elapsed")
        ll_ours = res.loglik if isinstance(res, TaskResult) else None
        ll_lme4 = ref.get("loglik_full") if isinstance(ref, dict) else None
        ll_tmb = tref.get("loglik") if isinstance(tref, dict) else None
        ratio = t_lme4 / t_ours if t_ours and t_lme4 is not None else None
        ratio_tmb = t_tmb / t_ours if t_ours and t_tmb is not None else None
        target = bench.lme4_target(t_lme4)
        met = None if ratio is None else ratio >= target
        if ratio_tmb is not None:
            met = (met if met is not None else True) and ratio_tmb > 1.0
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
                "nAGQ": bench.nAGQ,
                "rows": len(datasets[bench.key]),
                "groups": bench.groups,
                "glmmteach_s": t_ours,
                "glmmteach_all_s": res.times if isinstance(res, TaskResult) else None,
                "lme4_s": t_lme4,
                "lme4_lower_bound": lme4_lb,
                "glmmtmb_lower_bound": tmb_lb,
                "lme4_all_s": ref.get("elapsed_all") if isinstance(ref, dict) else None,
                "glmmtmb_s": t_tmb,
                "glmmtmb_all_s": tref.get("elapsed_all") if isinstance(tref, dict) else None,
                "ratio": ratio,
                "ratio_glmmtmb": ratio_tmb,
                "target_ratio": target,
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
                "loglik_glmmtmb": ll_tmb,
                "glmmteach_note": None if isinstance(res, TaskResult) else res,
                "lme4_note": None if isinstance(ref, dict) else ref,
                "glmmtmb_note": None if isinstance(tref, dict) or tref == "-" else tref,
                "lme4_convergence": (
                    ref.get("convergence_problems") if isinstance(ref, dict) else None
                ),
                "estimates_note": _estimate_diff(
                    res.estimates if isinstance(res, TaskResult) else None,
                    _lme4_estimates(ref) if isinstance(ref, dict) and not lme4_lb else None,
                ),
            }
        )
    _print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"versions": versions, "glmmTMB": tmb_version, "rows": rows}, indent=2))
        print(f"wrote {args.json}")
    return 0


def _warm_up() -> None:
    """One small fit first, so imports and first-call costs are not charged to a benchmark."""
    try:
        glmmteach = _glmmteach()
    except Unavailable:
        return
    glmmteach.glmer("y ~ x + (1 | g)", shapes.agq_many_groups().iloc[:600])


def _lb(lower_bound: bool) -> str:
    """``>`` before a peer's time (and ratio) that is only a lower bound (it timed out)."""
    return ">" if lower_bound else ""


def _print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'benchmark':14} {'rows':>9} {'nAGQ':>4} {'glmmteach':>10} {'lme4':>10} "
        f"{'glmmTMB':>10} {'lme4/ours':>9} {'TMB/ours':>8} {'target':>7} {'met':>4} "
        f"{'logLik glmmteach':>17} {'- lme4':>9} {'- TMB':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        d_lme4 = (r["loglik_glmmteach"] - r["loglik_lme4"]
                  if r["loglik_glmmteach"] is not None and r["loglik_lme4"] is not None
                  else None)
        d_tmb = (r["loglik_glmmteach"] - r["loglik_glmmtmb"]
                 if r["loglik_glmmteach"] is not None and r["loglik_glmmtmb"] is not None
                 else None)
        met = "n/a" if r["target_met"] is None else ("yes" if r["target_met"] else "NO")
        tgt = "n/a" if r["target_ratio"] is None else ">=" + format(r["target_ratio"], "g") + "x"
        lb, lb_tmb = _lb(r["lme4_lower_bound"]), _lb(r["glmmtmb_lower_bound"])
        t_tmb = "-" if r["glmmtmb_s"] is None else lb_tmb + _fmt_time(r["glmmtmb_s"])
        ratio = lb + _fmt(r["ratio"], ".1f") + ("x" if r["ratio"] else "")
        ratio_tmb = lb_tmb + _fmt(r["ratio_glmmtmb"], ".1f") + ("x" if r["ratio_glmmtmb"] else "")
        print(
            f"{r['key'][:14]:14} {r['rows']:>9,} {r['nAGQ']:>4} "
            f"{_fmt_time(r['glmmteach_s']):>10} {lb + _fmt_time(r['lme4_s']):>10} "
            f"{t_tmb:>10} {ratio:>9} {ratio_tmb:>8} "
            f"{tgt:>7} {met:>4} "
            f"{_fmt(r['loglik_glmmteach'], '.5f'):>17} {_fmt(d_lme4, '+.1e'):>9} "
            f"{_fmt(d_tmb, '+.1e'):>9}"
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
        for what in ("glmmteach_note", "lme4_note", "glmmtmb_note"):
            if r[what]:
                print(f"({r['key']}) {what.split('_')[0]}: {r[what]}")
        if r["estimates_note"]:
            print(f"({r['key']}) {r['estimates_note']}")
        if r["lme4_convergence"]:
            print(f"({r['key']}) lme4 convergence warnings: {r['lme4_convergence']}")
    print(
        "Times: glmmteach = full glmer() call in Python; lme4 / glmmTMB = system.time(...) "
        "inside R (startup and data loading excluded); best of the repeats (all in --json). "
        "logLik columns: glmmteach's, and its difference from each peer's (nAGQ > 1: lme4's "
        "value completed with the saturated log-likelihood)."
    )


if __name__ == "__main__":
    sys.exit(main())
