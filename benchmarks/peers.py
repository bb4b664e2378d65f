"""glmmTMB as a second timing peer, through ``Rscript`` (one R process for a batch).

lme4 runs through ``tests/roracle.py``; this module does the same for glmmTMB with only what the
benchmarks need: the fitting time (``system.time`` inside R, best of ``repeats``, R startup and
reading the CSV excluded), the log-likelihood and the fixed effects. glmmTMB fits the Laplace
approximation only, so it is a peer for ``nAGQ = 1`` models.

R is optional: :func:`glmmtmb_available` says whether ``Rscript`` can load glmmTMB, and a
missing peer makes the benchmark columns read ``n/a``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["GLMMTMB_MISSING_REASON", "TmbSpec", "fit_glmmtmb_batch", "glmmtmb_available",
           "glmmtmb_version"]

GLMMTMB_MISSING_REASON = (
    "Rscript with glmmTMB not found; install r-base-core r-cran-glmmtmb to time glmmTMB"
)


@dataclasses.dataclass
class TmbSpec:
    """One glmmTMB fit: data, an lme4-syntax formula, link, optional weights column."""

    data: pd.DataFrame
    formula: str
    link: str = "logit"
    weights: str | None = None
    repeats: int = 1


@functools.cache
def glmmtmb_version() -> str | None:
    """glmmTMB's version, or None when Rscript or glmmTMB is missing (cached)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    code = ('if (!nzchar(system.file(package = "glmmTMB"))) quit(status = 3); '
            'cat(as.character(packageVersion("glmmTMB")))')
    try:
        proc = subprocess.run([rscript, "--vanilla", "-e", code], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def glmmtmb_available() -> bool:
    return glmmtmb_version() is not None


def _write_csv(data: pd.DataFrame, path: Path) -> dict[str, Any]:
    """Write ``data`` with explicit R column classes and factor levels (as roracle does)."""
    types, levels, out = {}, {}, pd.DataFrame(index=data.index)
    for name in data.columns:
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            types[name] = "character"
            levels[name] = [str(c) for c in col.cat.categories]
            out[name] = col.astype(str)
        elif pd.api.types.is_bool_dtype(col.dtype):
            types[name] = "logical"
            out[name] = col.map({True: "TRUE", False: "FALSE"})
        elif pd.api.types.is_numeric_dtype(col.dtype):
            types[name] = "numeric"
            out[name] = col.astype(float)
        else:
            types[name] = "character"
            levels[name] = sorted(set(map(str, col)))
            out[name] = col.astype(str)
    out.to_csv(path, index=False)
    return {"path": str(path), "types": types, "levels": levels}


def _r_str(s: str) -> str:
    return json.dumps(str(s))


def _r_meta(meta: dict[str, Any]) -> str:
    types = ", ".join(f"{_r_str(k)} = {_r_str(v)}" for k, v in meta["types"].items())
    levels = ", ".join(
        f"{_r_str(k)} = c({', '.join(_r_str(x) for x in v)})" for k, v in meta["levels"].items())
    return f"list(path = {_r_str(meta['path'])}, types = c({types}), levels = list({levels}))"


_R_PRELUDE = r"""
suppressPackageStartupMessages(library(glmmTMB))
.num <- function(x) paste0("[", paste(sprintf("%.17g", as.double(x)), collapse = ","), "]")
.str <- function(x) paste0("[", paste0('"', gsub('"', '\\"', x, fixed = TRUE), '"',
                                       collapse = ","), "]")
.read <- function(meta) {
  d <- read.csv(meta$path, colClasses = unname(meta$types), check.names = FALSE,
                stringsAsFactors = FALSE)
  for (nm in names(meta$levels)) d[[nm]] <- factor(d[[nm]], levels = meta$levels[[nm]])
  d
}
.fit <- function(meta, formula, link, weights, repeats) {
  d <- .read(meta)
  cl <- bquote(glmmTMB(.(as.formula(formula)), data = d, family = binomial(link = .(link))))
  if (!is.null(weights)) cl$weights <- as.name(weights)
  times <- numeric(0)
  res <- tryCatch({
    for (r in seq_len(repeats)) {
      st <- system.time(m <- suppressWarnings(eval(cl)))
      times <- c(times, st[["elapsed"]])
    }
    fe <- fixef(m)$cond
    conv <- m$fit$convergence
    sprintf(paste0('{"error": null, "elapsed": %s, "loglik": %s, "fixef_names": %s, ',
                   '"fixef": %s, "convergence": %s, "pdHess": %s}'),
            .num(times), .num(as.numeric(logLik(m))), .str(names(fe)), .num(fe),
            .num(conv), if (isTRUE(m$sdr$pdHess)) "true" else "false")
  }, error = function(e) sprintf('{"error": %s}', .str(conditionMessage(e))))
  res
}
"""


def fit_glmmtmb_batch(specs: dict[str, TmbSpec], timeout: float | None = None
                      ) -> dict[str, dict[str, Any]]:
    """Fit every spec with glmmTMB in one Rscript run; ``{name: result}``.

    Each result has ``error`` (None or R's message), ``elapsed`` (best time, s),
    ``elapsed_all``, ``loglik``, ``fixef`` (Series), ``convergence`` (optimizer code) and
    ``pdHess``.
    """
    rscript = shutil.which("Rscript")
    if rscript is None or not glmmtmb_available():
        return {k: {"error": GLMMTMB_MISSING_REASON} for k in specs}
    with tempfile.TemporaryDirectory(prefix="glmmtmb-") as tmp:
        work = Path(tmp)
        written: dict[int, dict[str, Any]] = {}
        lines = [_R_PRELUDE, "out <- character(0)"]
        for name, spec in specs.items():
            if id(spec.data) not in written:
                written[id(spec.data)] = _write_csv(spec.data, work / f"d{len(written)}.csv")
            meta = _r_meta(written[id(spec.data)])
            w = "NULL" if spec.weights is None else _r_str(spec.weights)
            lines.append(
                f"out <- c(out, paste0({_r_str(json.dumps(name))}, ': ', .fit({meta}, "
                f"{_r_str(spec.formula)}, {_r_str(spec.link)}, {w}, {int(spec.repeats)}L)))")
        out_path = work / "out.json"
        lines.append(f'writeLines(paste0("{{", paste(out, collapse = ",\\n"), "}}"), '
                     f'{_r_str(str(out_path))})')
        script = work / "tmb.R"
        script.write_text("\n".join(lines) + "\n")
        proc = subprocess.run([rscript, "--vanilla", str(script)], capture_output=True,
                              text=True, timeout=timeout, cwd=work)
        if proc.returncode != 0 or not out_path.exists():
            msg = f"Rscript (glmmTMB) failed: {proc.stderr[-1500:]}"
            return {k: {"error": msg} for k in specs}
        raw = json.loads(out_path.read_text())
    results = {}
    for name in specs:
        r = raw[name]
        if r.get("error"):
            results[name] = {"error": r["error"][0] if isinstance(r["error"], list)
                             else r["error"]}
            continue
        results[name] = {
            "error": None,
            "elapsed": min(r["elapsed"]),
            "elapsed_all": r["elapsed"],
            "loglik": r["loglik"][0],
            "fixef": pd.Series(r["fixef"], index=r["fixef_names"]),
            "convergence": int(r["convergence"][0]),
            "pdHess": bool(r["pdHess"]),
        }
    return results
