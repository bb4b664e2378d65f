"""Run lme4 through ``Rscript`` as a numerical oracle for the cross-checks and the benchmarks.

R is an oracle here, never a dependency: every caller must cope with R being absent. Tests
call :func:`require_lme4` (a ``pytest.skip`` with an installation hint); scripts call
:func:`lme4_available`.

One ``Rscript`` start costs about 1.5 s (mostly loading lme4), so models are fitted in batches:
:func:`fit_lme4_batch` writes each data set to a CSV file in a temporary directory, generates
one R script that fits every model, runs ``Rscript`` once and reads one JSON file back.
:func:`fit_lme4` is the one-model convenience wrapper.

Data transfer
-------------
Columns are typed explicitly so R sees what Python sees:

* numeric (int, float) columns -> R ``numeric``; floats are written by pandas with ``repr``,
  which round-trips every double;
* bool columns -> R ``logical``;
* pandas ``Categorical`` columns -> R ``factor`` with the *same level order* (the categories,
  unused ones included; an ordered categorical becomes an R ordered factor, which R codes with
  polynomial contrasts);
* string (object) columns -> R ``factor`` with the levels sorted by Python's ``sorted``, which
  is R's default ``factor()`` order in the C locale.

Numbers come back with 17 significant digits (``sprintf("%.17g")``), so they are the doubles R
computed. The R side writes its own small JSON (no jsonlite needed: the Debian package
``r-cran-lme4`` is the only R requirement).

What a result holds
-------------------
:func:`fit_lme4` and each value of :func:`fit_lme4_batch` is a dict with these keys
(R's name in brackets where it differs):

``error``            None, or R's error message when the fit failed (other keys then absent)
``fixef``            pandas Series by column name [``fixef(m)``]
``se``               Series, ``sqrt(diag(vcov(m)))`` (lme4's default: the finite-difference
                     Hessian when available)
``se_rx``            Series, ``sqrt(diag(vcov(m, use.hessian = FALSE)))`` (from ``RX``)
``vcov``             DataFrame [``vcov(m)``]
``theta``            Series [``getME(m, "theta")``], names as lme4's, e.g. ``id.(Intercept)``
``varcorr``          DataFrame grp, var1, var2 (None for variances), vcov, sdcor
                     [``as.data.frame(VarCorr(m))``]
``loglik``           float [``as.numeric(logLik(m))``], exactly as lme4 reports it
``loglik_saturated`` float, the saturated binomial log-likelihood
                     sum(log C(n, k) + k log(k/n) + (n - k) log(1 - k/n)); 0 for 0/1 data
``loglik_full``      float, the complete binomial log-likelihood: ``loglik`` for nAGQ <= 1,
                     ``loglik + loglik_saturated`` for nAGQ > 1 (lme4's AGQ objective is the
                     sum of deviance residuals, which leaves out the saturated log-likelihood,
                     not only the binomial coefficients)
``df``               int, number of parameters [``attr(logLik(m), "df")``]
``aic``, ``bic``     float [``AIC(m)``, ``BIC(m)``], from lme4's ``loglik``
``aic_full``, ``bic_full``  the same from ``loglik_full``
``deviance``         float, -2 * logLik as in the summary's "deviance" column
``deviance_lme4``    float [``deviance(m)``], which for a GLMM is *not* -2 * logLik
``df_resid``         int [``df.residual(m)``]
``nobs``             int [``nobs(m)``]
``ngrps``            dict grouping factor -> number of levels [``ngrps(m)``]
``is_singular``      bool [``isSingular(m)``, default tolerance 1e-4]
``warnings``         list of warning messages raised while glmer ran
``messages``         list of messages (e.g. "boundary (singular) fit: see help('isSingular')")
``conv_messages``    list [``m@optinfo$conv$lme4$messages``]
``optimizer_code``   int [``m@optinfo$conv$opt``], 0 when the optimizer reports success
``max_abs_grad``     float or None, max |gradient| of the final finite-difference check
``stopped_short``    bool, lme4 flagged a convergence problem (a non-singularity message or
                     warning, or a non-zero optimizer code)
``elapsed``          float, seconds of ``system.time(glmer(...))["elapsed"]``, the minimum
                     over ``repeats`` (R startup and data loading excluded)
``elapsed_all``      list of all repeats' elapsed times
``nAGQ``, ``link``, ``formula``  echo of the request
``confint``          DataFrame (rows named as ``confint(m, oldNames = FALSE)``, columns
                     ``lower``, ``upper``) and ``confint_elapsed``, when requested
``predictions``      dict {(re_form, type): ndarray} on the fitted rows, re_form in
                     (None, "~0"), type in ("link", "response"), when requested
``predictions_newdata``  the same on ``newdata`` (``allow.new.levels = TRUE``), when given
``ranef``            DataFrame like ``as.data.frame(ranef(m, condVar = TRUE))``, when requested

The batch also carries ``versions`` (R and lme4) in the dict returned by
:func:`fit_lme4_batch` under the key ``"__versions__"``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Lme4Spec",
    "LME4_MISSING_REASON",
    "Lme4Error",
    "find_rscript",
    "fit_lme4",
    "fit_lme4_batch",
    "lme4_available",
    "lme4_versions",
    "require_lme4",
]

LME4_MISSING_REASON = (
    "Rscript with lme4 not found; install r-base-core r-cran-lme4 to run the lme4 cross-checks"
)

#: Environment variable naming an Rscript executable to use instead of the one on PATH.
RSCRIPT_ENV = "GLMMTEACH_RSCRIPT"

LINKS = ("logit", "probit", "cloglog", "cauchit", "log")


class Lme4Error(RuntimeError):
    """Rscript failed as a whole, or (from :func:`fit_lme4`) one lme4 fit raised an error."""


# --------------------------------------------------------------------------------------------
# Finding R
# --------------------------------------------------------------------------------------------


def find_rscript() -> str | None:
    """Path of the Rscript executable (``$GLMMTEACH_RSCRIPT`` or PATH), or None."""
    override = os.environ.get(RSCRIPT_ENV)
    if override:
        return override if shutil.which(override) else None
    return shutil.which("Rscript")


@functools.cache
def lme4_versions() -> dict[str, str] | None:
    """R's and lme4's versions, or None when Rscript or lme4 is missing (cached).

    A quick probe (~0.2 s): it finds lme4 without loading it.
    """
    rscript = find_rscript()
    if rscript is None:
        return None
    code = (
        'if (!nzchar(system.file(package = "lme4"))) quit(status = 3); '
        'cat(R.version$major, ".", R.version$minor, " ", '
        'as.character(packageVersion("lme4")), sep = "")'
    )
    try:
        proc = subprocess.run(
            [rscript, "--vanilla", "-e", code], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    parts = proc.stdout.split()
    if len(parts) != 2:
        return None
    return {"R": parts[0], "lme4": parts[1]}


def lme4_available() -> bool:
    """True when ``Rscript`` runs and can load lme4."""
    return lme4_versions() is not None


def require_lme4() -> None:
    """``pytest.skip`` the calling test (or fixture) when Rscript or lme4 is missing."""
    if not lme4_available():
        import pytest

        pytest.skip(LME4_MISSING_REASON)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Lme4Spec:
    """One glmer fit to run in R.

    Parameters
    ----------
    data : DataFrame
        The data; column types are carried over as described in the module docstring.
    formula : str
        An lme4 formula, used verbatim as R code (e.g. ``"cbind(s, n - s) ~ x + (1 | g)"``).
    nAGQ : int
        0 (lme4's fast PIRLS-only fit), 1 (Laplace) or the number of adaptive Gauss-Hermite
        points (> 1; a single scalar random effect only).
    weights : str, optional
        Name of the column holding the prior weights (binomial trials for a proportion).
    link : str
        Link of ``binomial(link = ...)``.
    control : str, optional
        R code for the ``control`` argument, e.g. ``'glmerControl(optimizer = "bobyqa")'``.
    start : str, optional
        R code for the ``start`` argument, e.g. ``"list(theta = 0.5, fixef = c(0, 1))"``.
    offset : str, optional
        Name of the column passed as ``offset =`` (added to any ``offset()`` in the formula).
    repeats : int
        Fit this many times and report the fastest ``system.time`` (the model is the last one).
    confint : str, optional
        ``confint`` method: ``"profile"``, ``"Wald"`` or ``"boot"``.
    confint_parm : str or list of str, optional
        ``parm`` of ``confint``, e.g. ``"beta_"``, ``"theta_"`` or parameter names.
    confint_level : float
        ``level`` of ``confint``.
    predict : bool
        Return predictions on the fitted rows.
    newdata : DataFrame, optional
        Also return predictions on these rows (unseen grouping levels allowed).
    ranef : bool
        Return the conditional modes and their conditional SDs.
    gc_first : bool
        ``system.time(gcFirst = ...)``: collect garbage before each timed fit, so the time
        excludes collecting earlier fits' garbage (each collection costs ~0.15 s outside the
        timing; turn off when the time does not matter).
    name : str, optional
        Key of the result in :func:`fit_lme4_batch` (defaults to the position).
    """

    data: pd.DataFrame
    formula: str
    nAGQ: int = 1
    weights: str | None = None
    link: str = "logit"
    control: str | None = None
    start: str | None = None
    offset: str | None = None
    repeats: int = 1
    confint: str | None = None
    confint_parm: str | list[str] | None = None
    confint_level: float = 0.95
    predict: bool = False
    newdata: pd.DataFrame | None = None
    ranef: bool = False
    gc_first: bool = True
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data, pd.DataFrame):
            raise TypeError(f"Lme4Spec.data must be a pandas DataFrame, got {type(self.data)}")
        if "~" not in self.formula:
            raise ValueError(f"Lme4Spec.formula {self.formula!r} has no '~'")
        if self.link not in LINKS:
            raise ValueError(f"Lme4Spec.link must be one of {LINKS}, got {self.link!r}")
        if int(self.nAGQ) != self.nAGQ or self.nAGQ < 0:
            raise ValueError(f"Lme4Spec.nAGQ must be a non-negative integer, got {self.nAGQ!r}")
        if self.weights is not None and self.weights not in self.data.columns:
            raise ValueError(f"Lme4Spec.weights column {self.weights!r} is not in the data")
        if self.offset is not None and self.offset not in self.data.columns:
            raise ValueError(f"Lme4Spec.offset column {self.offset!r} is not in the data")
        if self.repeats < 1:
            raise ValueError(f"Lme4Spec.repeats must be at least 1, got {self.repeats!r}")
        if self.confint is not None and self.confint not in ("profile", "Wald", "boot"):
            raise ValueError(
                f"Lme4Spec.confint must be 'profile', 'Wald' or 'boot', got {self.confint!r}"
            )


# --------------------------------------------------------------------------------------------
# Python -> R: data files and R literals
# --------------------------------------------------------------------------------------------


def _r_string(text: str) -> str:
    # A JSON string literal is a valid R string literal (\\, \", \n, \t, \uXXXX escapes).
    return json.dumps(str(text))


def _r_literal(value: Any) -> str:
    """An R expression for a small Python value (None, bool, int, float, str, list, dict)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return f"{int(value)}L"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Inf" if v > 0 else "-Inf"
        return repr(v)
    if isinstance(value, str):
        return _r_string(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{_r_string(k)} = {_r_literal(v)}" for k, v in value.items())
        return f"list({items})"
    if isinstance(value, list | tuple):
        if not value:
            return "list()"
        if all(isinstance(v, str) for v in value):
            return "c(" + ", ".join(_r_string(v) for v in value) + ")"
        return "list(" + ", ".join(_r_literal(v) for v in value) + ")"
    raise TypeError(f"cannot express {type(value)} as an R literal")


def _is_bool_like(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype == object:
        values = series.dropna()
        return len(values) > 0 and all(isinstance(v, bool | np.bool_) for v in values)
    return False


def _column_meta(
    series: pd.Series, train: pd.Series | None = None
) -> tuple[str, list[str] | None, bool]:
    """(R storage class, factor levels or None, ordered) of one column.

    With ``train`` (the fitted data's column, for newdata), factor levels start with the
    training levels, in their order, and values not seen in training are appended.
    """
    ref = series if train is None else train
    if _is_bool_like(ref):
        return "logical", None, False
    if isinstance(ref.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in ref.cat.categories]
        ordered = bool(ref.cat.ordered)
    elif pd.api.types.is_numeric_dtype(ref.dtype):
        return "numeric", None, False
    elif ref.dtype == object or pd.api.types.is_string_dtype(ref.dtype):
        values = ref.dropna()
        if not all(isinstance(v, str) for v in values):
            raise TypeError(
                f"column {series.name!r} mixes strings with other objects; convert it to str "
                "or to a pandas Categorical before passing it to R"
            )
        levels = sorted(set(values))
        ordered = False
    else:
        raise TypeError(
            f"column {series.name!r} has dtype {series.dtype}, which roracle cannot pass to R; "
            "use numeric, bool, str or Categorical columns"
        )
    if train is not None:
        seen = set(levels)
        extra = sorted({str(v) for v in series.dropna()} - seen)
        levels = levels + extra
    return "character", levels, ordered


def _write_csv(data: pd.DataFrame, path: Path, train: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write ``data`` for R; return the column metadata as a dict for :func:`_r_literal`."""
    types: dict[str, str] = {}
    levels: dict[str, list[str]] = {}
    ordered: list[str] = []
    out = pd.DataFrame(index=data.index)
    for name in data.columns:
        if not isinstance(name, str):
            raise TypeError(f"column names must be strings for R, got {name!r}")
        series = data[name]
        train_col = None
        if train is not None and name in train.columns:
            train_col = train[name]
        rtype, lev, is_ordered = _column_meta(series, train_col)
        types[name] = rtype
        if rtype == "logical":
            out[name] = series.map(lambda v: "NA" if pd.isna(v) else ("TRUE" if v else "FALSE"))
        elif rtype == "character":
            levels[name] = lev or []
            if is_ordered:
                ordered.append(name)
            out[name] = series.astype(object).map(lambda v: "NA" if pd.isna(v) else str(v))
        else:
            out[name] = series.astype(float)
    out.to_csv(path, index=False, na_rep="NA")
    return {"path": str(path), "types": types, "levels": levels, "ordered": ordered}


# --------------------------------------------------------------------------------------------
# The R program
# --------------------------------------------------------------------------------------------

_R_PRELUDE = r"""
suppressPackageStartupMessages(library(lme4))

.jnum <- function(x) {
  x <- as.double(x)
  out <- sprintf("%.17g", x)
  out[is.na(x)] <- "null"
  out[is.nan(x)] <- "NaN"
  out[is.infinite(x) & x > 0] <- "Infinity"
  out[is.infinite(x) & x < 0] <- "-Infinity"
  out
}
.jstr <- function(x) {
  if (length(x) == 0) return(character(0))
  x <- enc2utf8(as.character(x))
  y <- gsub("\\", "\\\\", x, fixed = TRUE)
  y <- gsub("\"", "\\\"", y, fixed = TRUE)
  y <- gsub("\n", "\\n", y, fixed = TRUE)
  y <- gsub("\r", "\\r", y, fixed = TRUE)
  y <- gsub("\t", "\\t", y, fixed = TRUE)
  out <- paste0("\"", y, "\"")
  out[is.na(x)] <- "null"
  out
}
# Atomic vectors always become JSON arrays (names dropped); named lists become objects.
.json <- function(x) {
  if (is.null(x)) return("null")
  if (is.factor(x)) x <- as.character(x)
  if (is.data.frame(x)) {
    x <- lapply(as.list(x), function(col) if (is.factor(col)) as.character(col) else col)
  }
  if (is.list(x)) {
    vals <- vapply(x, .json, "")
    if (!is.null(names(x))) {
      return(paste0("{", paste0(.jstr(names(x)), ":", vals, collapse = ","), "}"))
    }
    return(paste0("[", paste(vals, collapse = ","), "]"))
  }
  if (is.logical(x)) {
    v <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else if (is.numeric(x)) {
    v <- .jnum(x)
  } else {
    v <- .jstr(x)
  }
  paste0("[", paste(v, collapse = ","), "]")
}
.named <- function(x) list(names = if (is.null(names(x))) character(0) else names(x),
                           values = unname(x))
.matrix <- function(x) list(rownames = rownames(x), colnames = colnames(x),
                            values = lapply(seq_len(nrow(x)), function(i) unname(x[i, ])))

.read_data <- function(meta) {
  types <- unlist(meta[["types"]])
  d <- read.csv(meta[["path"]], colClasses = unname(types), check.names = FALSE,
                na.strings = "NA", stringsAsFactors = FALSE, encoding = "UTF-8")
  for (nm in names(meta[["levels"]])) {
    d[[nm]] <- factor(d[[nm]], levels = meta[["levels"]][[nm]],
                      ordered = nm %in% meta[["ordered"]])
  }
  d
}

.saturated_loglik <- function(m) {
  n <- m@resp$weights
  y <- m@resp$y
  k <- round(n * y)
  xlogx <- function(a, b) ifelse(a > 0, a * log(a / b), 0)
  sum(lchoose(n, k) + xlogx(k, n) + xlogx(n - k, n))
}

.fit_one <- function(spec) {
  d <- .read_data(spec[["data"]])
  cl <- bquote(glmer(.(as.formula(spec[["formula"]])), data = d,
                     family = binomial(link = .(spec[["link"]])), nAGQ = .(spec[["nAGQ"]])))
  if (!is.null(spec[["weights"]])) cl$weights <- as.name(spec[["weights"]])
  if (!is.null(spec[["control"]])) cl$control <- str2lang(spec[["control"]])
  if (!is.null(spec[["start"]])) cl$start <- str2lang(spec[["start"]])
  if (!is.null(spec[["offset"]])) cl$offset <- as.name(spec[["offset"]])
  times <- numeric(0)
  for (r in seq_len(spec[["repeats"]])) {
    warns <- character(0)
    msgs <- character(0)
    st <- system.time(gcFirst = spec[["gc_first"]], m <- withCallingHandlers(
      eval(cl),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      },
      message = function(cnd) {
        msgs <<- c(msgs, sub("\n$", "", conditionMessage(cnd)))
        invokeRestart("muffleMessage")
      }
    ))
    times <- c(times, st[["elapsed"]])
  }
  vcov_warns <- character(0)
  V <- withCallingHandlers(as.matrix(vcov(m)), warning = function(w) {
    vcov_warns <<- c(vcov_warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  V_rx <- suppressWarnings(as.matrix(vcov(m, use.hessian = FALSE)))
  ll <- logLik(m)
  npar <- attr(ll, "df")
  llsat <- .saturated_loglik(m)
  ll_full <- if (spec[["nAGQ"]] > 1) as.numeric(ll) + llsat else as.numeric(ll)
  vc <- as.data.frame(VarCorr(m))
  grad <- m@optinfo$derivs$gradient
  conv <- m@optinfo$conv
  out <- list(
    error = NULL,
    formula = spec[["formula"]], nAGQ = spec[["nAGQ"]], link = spec[["link"]],
    fixef = .named(fixef(m)),
    se = .named(sqrt(diag(V))),
    se_rx = .named(sqrt(diag(V_rx))),
    vcov = .matrix(V),
    vcov_warnings = vcov_warns,
    theta = .named(getME(m, "theta")),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2,
                   vcov = vc$vcov, sdcor = vc$sdcor),
    loglik = as.numeric(ll), loglik_saturated = llsat, loglik_full = ll_full,
    df = npar,
    aic = AIC(m), bic = BIC(m),
    aic_full = -2 * ll_full + 2 * npar, bic_full = -2 * ll_full + log(nobs(m)) * npar,
    deviance = -2 * as.numeric(ll), deviance_lme4 = deviance(m),
    df_resid = df.residual(m), nobs = nobs(m),
    ngrps = .named(ngrps(m)),
    is_singular = isSingular(m),
    warnings = warns, messages = msgs,
    conv_messages = as.character(unlist(conv$lme4$messages)),
    optinfo_warnings = as.character(unlist(m@optinfo$warnings)),
    optimizer_code = if (is.null(conv$opt)) 0 else conv$opt,
    max_abs_grad = if (is.null(grad)) NULL else max(abs(grad)),
    elapsed = min(times), elapsed_all = times
  )
  if (isTRUE(spec[["predict"]])) {
    out$predictions <- list(
      link = predict(m, type = "link"), response = predict(m, type = "response"),
      link_re0 = predict(m, re.form = NA, type = "link"),
      response_re0 = predict(m, re.form = NA, type = "response"))
  }
  if (!is.null(spec[["newdata"]])) {
    nd <- .read_data(spec[["newdata"]])
    p <- function(re, type) unname(predict(m, newdata = nd, re.form = re, type = type,
                                           allow.new.levels = TRUE))
    out$predictions_newdata <- list(
      link = p(NULL, "link"), response = p(NULL, "response"),
      link_re0 = p(NA, "link"), response_re0 = p(NA, "response"))
  }
  if (!is.null(spec[["confint"]])) {
    args <- list(m, method = spec[["confint"]], level = spec[["confint_level"]], oldNames = FALSE)
    if (!is.null(spec[["confint_parm"]])) args$parm <- spec[["confint_parm"]]
    st <- system.time(ci <- suppressMessages(do.call(confint, args)))
    out$confint <- .matrix(as.matrix(ci))
    out$confint_elapsed <- st[["elapsed"]]
  }
  if (isTRUE(spec[["ranef"]])) {
    re <- as.data.frame(ranef(m, condVar = TRUE))
    out$ranef <- list(grpvar = re$grpvar, term = re$term, grp = re$grp,
                      condval = re$condval, condsd = re$condsd)
  }
  out
}

.run_all <- function(specs, out_path) {
  results <- list()
  for (spec in specs) {
    res <- tryCatch(.fit_one(spec), error = function(e) list(error = conditionMessage(e)))
    results[[spec[["name"]]]] <- res
  }
  results[["__versions__"]] <- list(
    R = paste(R.version$major, R.version$minor, sep = "."),
    lme4 = as.character(packageVersion("lme4")))
  con <- file(out_path, open = "w", encoding = "UTF-8")
  writeLines(.json(results), con)
  close(con)
}
"""


def _r_program(specs: list[dict[str, Any]], out_path: Path) -> str:
    lines = [_R_PRELUDE, "specs <- list("]
    lines.append(",\n".join("  " + _r_literal(spec) for spec in specs))
    lines.append(")")
    lines.append(f".run_all(specs, {_r_string(str(out_path))})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# R -> Python
# --------------------------------------------------------------------------------------------


def _scalar(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"expected a scalar from R, got {value!r}")
        return value[0]
    return value


def _float(value: Any) -> float:
    v = _scalar(value)
    return float("nan") if v is None else float(v)


def _series(obj: dict[str, Any], name: str) -> pd.Series:
    values = [np.nan if v is None else v for v in obj["values"]]
    return pd.Series(np.asarray(values, dtype=float), index=list(obj["names"]), name=name)


def _matrix(obj: dict[str, Any], colnames: list[str] | None = None) -> pd.DataFrame:
    values = [[np.nan if v is None else v for v in row] for row in obj["values"]]
    return pd.DataFrame(
        np.asarray(values, dtype=float).reshape(len(values), -1),
        index=obj["rownames"],
        columns=colnames if colnames is not None else obj["colnames"],
    )


def _array(values: list[Any]) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


_STOPPED_SHORT_PATTERNS = ("converge", "degenerate", "unidentifiable", "hessian", "gradient")


def _parse_result(raw: dict[str, Any]) -> dict[str, Any]:
    error = _scalar(raw.get("error")) if raw.get("error") is not None else None
    if error is not None:
        return {"error": error}
    out: dict[str, Any] = {"error": None}
    out["formula"] = _scalar(raw["formula"])
    out["nAGQ"] = int(_scalar(raw["nAGQ"]))
    out["link"] = _scalar(raw["link"])
    out["fixef"] = _series(raw["fixef"], "fixef")
    out["se"] = _series(raw["se"], "se")
    out["se_rx"] = _series(raw["se_rx"], "se_rx")
    out["vcov"] = _matrix(raw["vcov"])
    out["vcov_warnings"] = list(raw["vcov_warnings"])
    out["theta"] = _series(raw["theta"], "theta")
    vc = raw["varcorr"]
    out["varcorr"] = pd.DataFrame(
        {
            "grp": vc["grp"],
            "var1": vc["var1"],
            "var2": vc["var2"],
            "vcov": _array(vc["vcov"]),
            "sdcor": _array(vc["sdcor"]),
        }
    )
    for key in (
        "loglik",
        "loglik_saturated",
        "loglik_full",
        "aic",
        "bic",
        "aic_full",
        "bic_full",
        "deviance",
        "deviance_lme4",
        "elapsed",
    ):
        out[key] = _float(raw[key])
    for key in ("df", "df_resid", "nobs", "optimizer_code"):
        out[key] = int(_scalar(raw[key]))
    ngrps = raw["ngrps"]
    out["ngrps"] = {k: int(v) for k, v in zip(ngrps["names"], ngrps["values"], strict=True)}
    out["is_singular"] = bool(_scalar(raw["is_singular"]))
    for key in ("warnings", "messages", "conv_messages", "optinfo_warnings"):
        out[key] = list(raw[key])
    grad = raw.get("max_abs_grad")
    out["max_abs_grad"] = None if grad is None else _float(grad)
    out["elapsed_all"] = [float(t) for t in raw["elapsed_all"]]
    problems = [
        text
        for text in out["conv_messages"] + out["warnings"] + out["optinfo_warnings"]
        if "singular" not in text.lower()
        and any(p in text.lower() for p in _STOPPED_SHORT_PATTERNS)
    ]
    out["convergence_problems"] = problems
    out["stopped_short"] = bool(problems) or out["optimizer_code"] != 0
    if "predictions" in raw:
        out["predictions"] = _predictions(raw["predictions"])
    if "predictions_newdata" in raw:
        out["predictions_newdata"] = _predictions(raw["predictions_newdata"])
    if "confint" in raw:
        out["confint"] = _matrix(raw["confint"], colnames=["lower", "upper"])
        out["confint_elapsed"] = _float(raw["confint_elapsed"])
    if "ranef" in raw:
        re = raw["ranef"]
        out["ranef"] = pd.DataFrame(
            {
                "grpvar": re["grpvar"],
                "term": re["term"],
                "grp": re["grp"],
                "condval": _array(re["condval"]),
                "condsd": _array(re["condsd"]),
            }
        )
    return out


def _predictions(raw: dict[str, Any]) -> dict[tuple[str | None, str], np.ndarray]:
    return {
        (None, "link"): _array(raw["link"]),
        (None, "response"): _array(raw["response"]),
        ("~0", "link"): _array(raw["link_re0"]),
        ("~0", "response"): _array(raw["response_re0"]),
    }


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def fit_lme4_batch(
    specs: Iterable[Lme4Spec] | Mapping[str, Lme4Spec],
    *,
    timeout: float | None = 900.0,
    keep_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Fit every spec with lme4 in ONE Rscript run; return {name: result dict}.

    A fit that fails in R gives ``{"error": message}`` under its name; the others still run.
    The returned dict also holds ``"__versions__"``: {"R": ..., "lme4": ...}.

    Parameters
    ----------
    specs : iterable of Lme4Spec, or mapping name -> Lme4Spec
        The fits. Names come from the mapping keys, else ``spec.name``, else the position.
    timeout : float or None
        Seconds before Rscript is killed (:class:`Lme4Error`).
    keep_dir : path, optional
        Write the CSV files, the R script and the JSON result here and keep them (for
        debugging: ``Rscript <keep_dir>/fits.R`` reruns the batch); default a temporary dir.

    Raises
    ------
    Lme4Error
        Rscript or lme4 is missing, Rscript failed, or timed out.
    """
    rscript = find_rscript()
    if rscript is None or not lme4_available():
        raise Lme4Error(LME4_MISSING_REASON)
    if isinstance(specs, Mapping):
        named = [(str(k), v) for k, v in specs.items()]
    else:
        named = [(s.name if s.name is not None else str(i), s) for i, s in enumerate(specs)]
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate spec names in {names}")
    if "__versions__" in names:
        raise ValueError("'__versions__' is reserved")

    def run(workdir: Path) -> dict[str, Any]:
        written: dict[int, dict[str, Any]] = {}
        r_specs = []
        for i, (name, spec) in enumerate(named):
            key = id(spec.data)
            if key not in written:
                written[key] = _write_csv(spec.data, workdir / f"data_{len(written)}.csv")
            r_spec: dict[str, Any] = {
                "name": name,
                "data": written[key],
                "formula": spec.formula,
                "link": spec.link,
                "nAGQ": int(spec.nAGQ),
                "weights": spec.weights,
                "control": spec.control,
                "start": spec.start,
                "offset": spec.offset,
                "repeats": int(spec.repeats),
                "predict": bool(spec.predict),
                "ranef": bool(spec.ranef),
                "gc_first": bool(spec.gc_first),
                "newdata": None,
                "confint": spec.confint,
                "confint_parm": spec.confint_parm,
                "confint_level": float(spec.confint_level),
            }
            if spec.newdata is not None:
                r_spec["newdata"] = _write_csv(
                    spec.newdata, workdir / f"newdata_{i}.csv", train=spec.data
                )
            r_specs.append({k: v for k, v in r_spec.items() if v is not None})
        out_path = workdir / "results.json"
        script = workdir / "fits.R"
        script.write_text(_r_program(r_specs, out_path), encoding="utf-8")
        try:
            proc = subprocess.run(
                [rscript, "--vanilla", str(script)],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=workdir,
            )
        except subprocess.TimeoutExpired as exc:
            raise Lme4Error(f"Rscript timed out after {timeout} s on {names}") from exc
        if proc.returncode != 0 or not out_path.exists():
            raise Lme4Error(
                f"Rscript failed (exit {proc.returncode}) on {names}:\n{proc.stderr[-3000:]}"
            )
        raw = json.loads(out_path.read_text(encoding="utf-8"))
        results: dict[str, Any] = {name: _parse_result(raw[name]) for name in names}
        results["__versions__"] = {k: _scalar(v) for k, v in raw["__versions__"].items()}
        return results

    if keep_dir is not None:
        path = Path(keep_dir)
        path.mkdir(parents=True, exist_ok=True)
        return run(path)
    with tempfile.TemporaryDirectory(prefix="roracle-") as tmp:
        return run(Path(tmp))


def fit_lme4(
    data: pd.DataFrame,
    formula: str,
    *,
    nAGQ: int = 1,
    weights: str | None = None,
    link: str = "logit",
    timeout: float | None = 900.0,
    **options: Any,
) -> dict[str, Any]:
    """Fit one model with lme4 (one Rscript run, ~1.5 s of startup); return its result dict.

    ``options`` are the other :class:`Lme4Spec` fields (``control``, ``repeats``,
    ``confint``, ``confint_parm``, ``confint_level``, ``predict``, ``newdata``, ``ranef``).

    Raises
    ------
    Lme4Error
        R is missing, Rscript failed, or the lme4 fit itself raised an error.
    """
    spec = Lme4Spec(
        data=data, formula=formula, nAGQ=nAGQ, weights=weights, link=link, name="fit", **options
    )
    result = fit_lme4_batch([spec], timeout=timeout)["fit"]
    if result["error"] is not None:
        raise Lme4Error(f"lme4 failed on {formula!r}: {result['error']}")
    return result
