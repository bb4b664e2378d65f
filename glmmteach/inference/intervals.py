"""Confidence intervals for a fitted model: profile likelihood, Wald, parametric bootstrap.

:func:`confint` mirrors lme4's ``confint(m, parm, level, method, oldNames = FALSE)``: one row
per parameter (random-effect SDs and correlations first, named ``sd_(Intercept)|id``,
``cor_x.(Intercept)|g``, then the fixed effects) and two columns named as R names them
(``"2.5 %"``, ``"97.5 %"``). :func:`bootstrap` refits the model to data simulated from it and
returns the replicates of any statistic, with percentile intervals.

Imports ``glmmteach.model``, ``glmmteach._util`` and other ``inference`` modules; never
``diagnostics`` or ``course``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach._util.runtime import check_n_jobs, run_tasks, single_threaded_blas
from glmmteach._util.validate import check_nsim, check_seed
from glmmteach.inference.profile import (
    check_level,
    column_labels,
    parameter_names,
    profile,
    resolve_parm,
    sdcor_estimates,
)
from glmmteach.model.results import check_fitted_model
from glmmteach.warnings import BootstrapWarning, warn

# BootstrapWarning lives in glmmteach._warnings; it stays importable from here
__all__ = ["confint", "wald_confint", "bootstrap", "BootstrapResult", "BootstrapWarning"]

_METHODS = {"profile": "profile", "wald": "wald", "boot": "boot", "bootstrap": "boot"}


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_method(method) -> str:
    key = method.lower() if isinstance(method, str) else None
    if key not in _METHODS:
        raise ValueError(
            f"method={method!r} is not an interval method; use 'profile' (likelihood profile, "
            "lme4's default), 'wald' (estimate +/- z * standard error) or 'boot' (parametric "
            "bootstrap)")
    return _METHODS[key]




# --------------------------------------------------------------------------------------------
# confint
# --------------------------------------------------------------------------------------------


def confint(m, parm=None, level: float = 0.95, method: str = "profile", nsim: int = 500,
            seed=None, n_jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Confidence intervals for the parameters of a fitted model, as lme4's ``confint``.

    Parameters
    ----------
    m : GlmerResult
        The fitted model.
    parm : None, str or list of str
        ``None`` (all parameters), ``"theta_"`` (the random-effect SDs and correlations),
        ``"beta_"`` (the fixed effects), or names as in the rows of the result
        (``"trttreat"``, ``"sd_(Intercept)|id"``; lme4's ``".sig01"`` is accepted too).
    level : float
        Confidence level, strictly between 0 and 1.
    method : {"profile", "wald", "boot"}
        ``"profile"`` (default, as lme4): likelihood-profile intervals. ``"wald"``: estimate
        +/- z times the standard error, for fixed effects; random-effect rows are NaN.
        ``"boot"``: parametric-bootstrap percentile intervals from ``nsim`` refits.
    nsim, seed, n_jobs, progress
        Bootstrap only: number of simulations, seed (the same seed gives the same intervals
        whatever ``n_jobs``), number of parallel processes, progress bar.

    Returns
    -------
    DataFrame
        Indexed by parameter name; columns named as R's (``"2.5 %"``, ``"97.5 %"`` for 0.95).
        ``attrs["method"]`` and ``attrs["level"]`` record how it was made (for ``"boot"`` also
        ``attrs["bootstrap"]``, the :class:`BootstrapResult`).

    Raises
    ------
    ValueError
        Unknown ``method`` or ``parm``, ``level`` outside (0, 1), ``nsim < 1``; profile
        intervals of a fit with ``nAGQ=0``.

    Notes
    -----
    **Profile** (see :func:`glmmteach.profile.profile`): the interval is
    ``{x : |zeta(x)| <= z_{(1+level)/2}}`` with ``zeta`` the signed square root of the rise in
    deviance when ``x`` is held fixed and every other parameter re-optimized. It is the set of
    values a likelihood-ratio test would not reject; it need not be symmetric and it respects
    the parameter space (an SD's lower limit is exactly 0 when the profile at 0 stays within
    ``z``).

    **Wald**: ``beta_hat +/- z SE``. lme4 reports NA for the variance parameters because a
    standard error for an SD is a poor basis for an interval: the sampling distribution of an
    SD estimate is skewed and bounded below by 0 (often with an atom at 0), so a symmetric
    interval can include negative values and misstates the uncertainty. glmmteach follows lme4
    and returns NaN for them, and we recommend the profile or the bootstrap there.

    **Bootstrap**: see :func:`bootstrap`; the statistic is the vector of SDs, correlations and
    fixed effects, and the interval is the ``(1 - level)/2`` and ``(1 + level)/2`` percentiles
    of its replicates (lme4's ``boot.type = "perc"``).
    """
    check_fitted_model(m, "m")
    method = _check_method(method)
    level = check_level(level)
    idx = resolve_parm(m, parm)
    names = parameter_names(m)
    if method == "boot":
        nsim = check_nsim(nsim)
        n_jobs = check_n_jobs(n_jobs)
        seed = check_seed(seed)
    if method == "profile":
        pr = profile(m, parm=[names[i] for i in idx], level=level, alphamax=None)
        return pr.confint(level)
    if method == "wald":
        return wald_confint(m, parm=[names[i] for i in idx], level=level)
    boot = bootstrap(m, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
    out = boot.confint(level).loc[[names[i] for i in idx]]
    out.attrs.update(method="boot", level=level, bootstrap=boot)
    return out


def wald_confint(m, parm=None, level: float = 0.95) -> pd.DataFrame:
    """Wald intervals ``estimate +/- z * SE`` for the fixed effects (NaN for variance rows).

    See :func:`confint` (``method="wald"``) for the parameters and why the random-effect rows
    are NaN.
    """
    check_fitted_model(m, "m")
    level = check_level(level)
    idx = resolve_parm(m, parm)
    names = parameter_names(m)
    n_theta = len(m.theta)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    est = np.concatenate([np.full(n_theta, np.nan), m.beta])
    se = np.concatenate([np.full(n_theta, np.nan), np.sqrt(np.diag(m.opt.vcov_beta))])
    lo, hi = est - z * se, est + z * se
    out = pd.DataFrame({c: v[idx] for c, v in zip(column_labels(level), (lo, hi))},
                       index=[names[i] for i in idx])
    out.attrs.update(method="wald", level=level)
    return out


# --------------------------------------------------------------------------------------------
# Parametric bootstrap
# --------------------------------------------------------------------------------------------


@dataclass
class BootstrapResult:
    """Replicates of a statistic over refits of the model to data simulated from it.

    Attributes
    ----------
    t0 : pandas.Series
        The statistic on the fitted model itself.
    draws : DataFrame
        One row per simulation (``nsim`` rows, in order), one column per component of the
        statistic. Rows of failed refits are NaN (and listed in ``failures``).
    nsim : int
        Number of simulations asked for.
    n_failed : int
        How many refits (or statistic evaluations) raised an error.
    failures : dict
        Replicate number -> error message, for the failed ones.
    warnings : DataFrame
        Warnings raised during the refits (replicate, category, message), e.g. singular fits.
    seed_entropy : int
        The entropy of the :class:`numpy.random.SeedSequence` the replicate streams came from
        (give it as ``seed`` to repeat the bootstrap).
    """

    t0: pd.Series
    draws: pd.DataFrame
    nsim: int
    n_failed: int
    failures: dict
    warnings: pd.DataFrame
    seed_entropy: int
    _extra: dict = field(default_factory=dict, repr=False)

    @property
    def n_ok(self) -> int:
        return self.nsim - self.n_failed

    @property
    def n_singular(self) -> int:
        """Refits that ended in a singular (boundary) fit."""
        w = self.warnings
        return int(w.loc[w.category == "SingularFitWarning", "replicate"].nunique()) if len(
            w) else 0

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile intervals: the ``(1 -/+ level)/2`` quantiles of the successful draws.

        Quantiles are numpy's default (linear interpolation between order statistics, R's
        ``quantile(type = 7)``). A component that is NaN in some successful draws (say a
        correlation whose SD was estimated as 0) uses the draws where it is defined.
        """
        level = check_level(level)
        a = (1.0 - level) / 2.0
        ok = self.draws.drop(index=list(self.failures), errors="ignore")
        vals = ok.to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
            q = np.nanquantile(vals, [a, 1.0 - a], axis=0) if len(vals) else np.full(
                (2, vals.shape[1]), np.nan)
        out = pd.DataFrame(q.T, index=self.draws.columns, columns=list(column_labels(level)))
        out.attrs.update(method="boot", level=level, n_ok=self.n_ok, n_failed=self.n_failed)
        return out

    def summary(self) -> pd.DataFrame:
        """Per component: original value, bootstrap mean, bias, standard error."""
        ok = self.draws.drop(index=list(self.failures), errors="ignore")
        mean = ok.mean()
        return pd.DataFrame({"original": self.t0, "bootMean": mean, "bias": mean - self.t0,
                             "std. error": ok.std(ddof=1)})

    def __repr__(self) -> str:
        return (f"<BootstrapResult: {self.nsim} simulations, {self.n_failed} failed refits, "
                f"{len(self.t0)} statistic(s): {', '.join(map(str, self.t0.index[:6]))}"
                f"{', ...' if len(self.t0) > 6 else ''}>")


def _as_series(value, names=None) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.astype(float)
    if isinstance(value, dict):
        return pd.Series({k: float(v) for k, v in value.items()})
    arr = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    if names is not None and len(names) == len(arr):
        return pd.Series(arr, index=names)
    if arr.size == 1:
        return pd.Series(arr, index=["statistic"])
    return pd.Series(arr, index=[f"stat_{j}" for j in range(arr.size)])


def _replicates(m, statistic, seeds, start: int, compute_se: bool, use_u: bool):
    """Run a chunk of replicates (in this process or a joblib worker)."""
    out = []
    with single_threaded_blas():
        for j, ss in enumerate(seeds):
            rep = start + j
            rng = np.random.Generator(np.random.PCG64(ss))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    y = m.simulate(1, seed=rng, use_u=use_u).iloc[:, 0].to_numpy(dtype=float)
                    fit = m.refit(y, compute_se=compute_se)
                    val = statistic(fit)
                    res = ("ok", val)
                except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                    res = ("failed", f"{type(exc).__name__}: {exc}")
            msgs = [(rep, w.category.__name__, str(w.message)) for w in caught]
            out.append((rep, res, msgs))
    return out


def bootstrap(m, statistic: Callable | None = None, nsim: int = 1000, seed=None,
              n_jobs: int = 1, progress: bool = True, compute_se: bool = False,
              use_u: bool = False) -> BootstrapResult:
    """Parametric bootstrap: simulate from the fit, refit, and collect a statistic.

    Parameters
    ----------
    m : GlmerResult
        The fitted model.
    statistic : callable, optional
        ``statistic(fit) -> number, sequence, dict or pandas.Series`` evaluated on every refit
        (and on ``m`` itself for ``t0``). Default: the random-effect SDs and correlations and
        the fixed effects, named as in :func:`confint` (lme4's default for
        ``confint(method = "boot")``). With ``n_jobs != 1`` it must be picklable by joblib
        (lambdas and local functions are fine: joblib uses cloudpickle).
    nsim : int
        Number of simulated data sets (>= 1).
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Seeds a :class:`numpy.random.SeedSequence` (a Generator contributes one draw) that
        spawns one independent stream per replicate, so replicate ``j`` sees the same
        simulated data whatever ``n_jobs`` is and the draws are identical. ``None`` draws
        fresh entropy (recorded in ``seed_entropy``).
    n_jobs : int
        Processes for joblib (1: run here, -1: all CPUs).
    progress : bool
        Show a tqdm progress bar (``tqdm.auto``: a widget in Jupyter, text elsewhere).
    compute_se : bool
        Compute standard errors in each refit (needed only if ``statistic`` uses them).
    use_u : bool
        Condition the simulations on the estimated random effects (default: draw new ones,
        as lme4's ``bootMer(use.u = FALSE)``).

    Returns
    -------
    BootstrapResult

    Warns
    -----
    BootstrapWarning
        When some refits failed: how many, and where to find the messages. Failed replicates
        stay in ``draws`` as NaN rows and are excluded from the intervals.

    Notes
    -----
    Each replicate draws ``u* ~ N(0, I)`` and ``y* ~ Binomial(n, g^{-1}(X beta_hat + Z
    Lambda(theta_hat) u*))``, refits by maximum likelihood starting from the estimates, and
    evaluates the statistic. The spread of the replicates estimates the sampling distribution
    of the statistic under the fitted model; percentile intervals take its quantiles. Refits
    that end singular (an SD of 0) are legitimate draws and are kept; their warnings are
    collected in ``warnings`` instead of being printed.
    """
    check_fitted_model(m, "m")
    nsim = check_nsim(nsim)
    n_jobs = check_n_jobs(n_jobs)
    seed = check_seed(seed)
    if isinstance(seed, np.random.Generator):  # the Generator contributes one draw
        seed = np.random.SeedSequence(int(seed.integers(0, 2**63)))
    if statistic is None:
        statistic = sdcor_estimates
    elif not callable(statistic):
        raise TypeError("statistic must be a function of a fitted model, e.g. "
                        "lambda fit: fit.fixef['trttreat']")
    t0 = _as_series(statistic(m))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    children = ss.spawn(nsim)
    n_workers = n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    chunk = max(1, min(25, math.ceil(nsim / (4 * n_workers))))
    starts = list(range(0, nsim, chunk))
    tasks = [(children[s:s + chunk], s) for s in starts]

    results = run_tasks(_replicates, [(m, statistic, seeds, s, compute_se, use_u)
                                      for seeds, s in tasks],
                        n_jobs=n_jobs, total=nsim, desc="bootstrap refits", progress=progress)
    results.sort(key=lambda r: r[0])
    rows, failures, wrows = [], {}, []
    for rep, (status, val), msgs in results:
        wrows.extend(msgs)
        if status == "ok":
            try:
                rows.append(_as_series(val, names=list(t0.index)).reindex(t0.index))
                continue
            except (TypeError, ValueError) as exc:
                val = f"statistic returned an unusable value: {exc}"
        failures[rep] = val
        rows.append(pd.Series(np.nan, index=t0.index))
    draws = pd.DataFrame(rows, index=pd.RangeIndex(nsim, name="replicate"))
    wdf = pd.DataFrame(wrows, columns=["replicate", "category", "message"])
    out = BootstrapResult(t0=t0, draws=draws, nsim=nsim, n_failed=len(failures),
                          failures=failures, warnings=wdf, seed_entropy=int(ss.entropy))
    if failures:
        first = next(iter(failures.items()))
        warn(f"{len(failures)} of {nsim} bootstrap refits failed; their rows in .draws are NaN "
             f"and the intervals use the {nsim - len(failures)} others. First failure "
             f"(replicate {first[0]}): {first[1]}. See .failures for all.", BootstrapWarning)
    return out
