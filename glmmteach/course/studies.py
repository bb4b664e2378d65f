r"""Small simulation studies for the lessons: what is systematic, not what one seed shows.

Each study repeats "simulate a data set, fit, record" ``nsim`` times with independent seeds
spawned from one ``seed`` (``numpy.random.SeedSequence``), optionally in parallel with joblib
and with a progress bar, and reports every summary with its Monte-Carlo standard error, so a
lesson can say how far a difference is from noise.

* :func:`refit_study` (lesson 03): GLMM against a GLM that ignores the subjects, across SDs.
* :func:`coverage_study` (lesson 04): how often Wald and profile intervals cover the truth.
* :func:`agq_study` (lesson 06): the bias of the Laplace SD estimate against AGQ when the SD
  is large and the clusters are small.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from glmmteach import simulate
from glmmteach._util import validate as _validate
from glmmteach._util.runtime import check_n_jobs, run_tasks
from glmmteach.warnings import GlmmteachWarning

__all__ = ["refit_study", "coverage_study", "agq_study"]


def _seeds(seed, n: int) -> list[np.random.SeedSequence]:
    seed = _validate.check_seed(seed)
    if isinstance(seed, np.random.SeedSequence):
        return seed.spawn(n)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    return np.random.SeedSequence(seed).spawn(n)


@contextlib.contextmanager
def _quiet():
    """Singular or hard fits are part of a study's results, not news for each data set."""
    with warnings.catch_warnings():
        # singular fits, separation, dropped columns and profiles that stop at a bound
        for cls in (GlmmteachWarning, RuntimeWarning):
            warnings.simplefilter("ignore", cls)
        yield


def _mean_mc(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan


# ------------------------------------------------------------------------------------ lesson 03


def _refit_one(sd, n_subjects, n_days, term, coefs, seq):
    import statsmodels.api as sm

    from glmmteach.model.fit import glmer

    rng = np.random.default_rng(seq)
    design = simulate.make_design(n_subjects, n_days, seed=rng)
    data = simulate.simulate_logit_scale(design, coefs, sd=sd, seed=rng)
    with _quiet():
        m = glmer("y ~ trt * sex + (1|id)", data)
    X = np.asarray(m.design.X)
    glm = sm.GLM(np.asarray(m.design.y, dtype=float), X, family=sm.families.Binomial()).fit()
    k = list(m.design.xnames).index(term)
    return [{"sd": sd, "glmer_est": float(m.fixef[term]), "glmer_se": float(m.bse[term]),
             "glm_est": float(glm.params[k]), "glm_se": float(glm.bse[k])}]


def refit_study(sds: Sequence[float], *, nsim: int = 20, n_subjects: int = 250,
                n_days: int = 14, term: str = "trttreat",
                coefs: Mapping[str, float] | pd.Series = simulate.ARTICLE_LOGIT_COEFS,
                seed=None, n_jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    r"""Repeat lesson 03's refit (GLMM and GLM on the article's design) ``nsim`` times per SD.

    Parameters
    ----------
    sds : sequence of float
        True random-intercept SDs (log-odds scale).
    nsim : int
        Simulated studies per SD.
    n_subjects, n_days : int
        Size of each study (the article's design and factors).
    term : str
        The coefficient reported (default the treatment effect among females).
    coefs : mapping or Series
        True coefficients (default: the article's).
    seed : int, optional
        One seed for the whole study; every simulated study gets its own spawned seed.
    n_jobs : int
        joblib workers (1: run here).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per SD: ``sd``, ``truth``, the mean over the studies of each fit's estimate
        and SE (``glmer_est``, ``glm_est``, ``glmer_se``, ``glm_se``), each with its
        Monte-Carlo standard error (``*_mc``), and ``glmer_sd_of_est``: the spread of the
        GLMM's estimates across studies, which the mean SE should match.

    Notes
    -----
    The Monte-Carlo standard error of a mean over ``nsim`` studies is the sample SD of the
    ``nsim`` values divided by :math:`\sqrt{n_{sim}}`.
    """
    n_jobs = check_n_jobs(n_jobs)
    sds = [float(s) for s in sds]
    seqs = _seeds(seed, len(sds) * nsim)
    tasks = [(sd, n_subjects, n_days, term, coefs, seqs[i * nsim + j])
             for i, sd in enumerate(sds) for j in range(nsim)]
    rows = pd.DataFrame(run_tasks(_refit_one, tasks, n_jobs=n_jobs, total=len(tasks),
                                  desc="refits", progress=progress))
    truth = float(pd.Series(coefs)[term])
    out = []
    for sd, g in rows.groupby("sd", sort=False):
        rec = {"sd": sd, "truth": truth}
        for col in ["glmer_est", "glm_est", "glmer_se", "glm_se"]:
            rec[col], rec[col + "_mc"] = _mean_mc(g[col])
        rec["glmer_sd_of_est"] = float(g["glmer_est"].std(ddof=1))
        out.append(rec)
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------ lesson 04


def _coverage_one(n_subjects, n_days, sd, term, coefs, level, seq):
    from glmmteach.inference.intervals import confint
    from glmmteach.model.fit import glmer

    rng = np.random.default_rng(seq)
    design = simulate.make_design(n_subjects, n_days, seed=rng)
    data = simulate.simulate_logit_scale(design, coefs, sd=sd, seed=rng)
    truth = float(pd.Series(coefs)[term])
    with _quiet():
        m = glmer("y ~ trt * sex + (1|id)", data)
        rec = {}
        for method in ("wald", "profile"):
            try:
                ci = confint(m, parm=term, level=level, method=method)
                lo, hi = (float(v) for v in ci.iloc[0, :2])
            except (ValueError, RuntimeError, FloatingPointError):
                lo = hi = math.nan
            rec[f"{method}_covers"] = (lo <= truth <= hi) if math.isfinite(lo + hi) else math.nan
            rec[f"{method}_below"] = (hi < truth) if math.isfinite(lo + hi) else math.nan
            rec[f"{method}_width"] = hi - lo
    return [rec]


def coverage_study(*, nsim: int = 100, n_subjects: int = 40, n_days: int = 14,
                   sd: float = 1.0, term: str = "trttreat",
                   coefs: Mapping[str, float] | pd.Series = simulate.ARTICLE_LOGIT_COEFS,
                   level: float = 0.95, seed=None, n_jobs: int = 1,
                   progress: bool = True) -> pd.DataFrame:
    r"""How often do Wald and profile intervals of ``term`` cover the true value?

    Parameters
    ----------
    nsim : int
        Simulated studies.
    n_subjects, n_days, sd : int, int, float
        Each study: the article's design with ``n_subjects`` subjects, ``n_days`` days and a
        random-intercept SD ``sd`` (log-odds scale). Small studies show the difference.
    term : str
        The coefficient whose interval is checked.
    coefs : mapping or Series
        True coefficients (default: the article's).
    level : float
        Confidence level.
    seed : int, optional
        One seed for the study; each simulated study gets its own spawned seed.
    n_jobs, progress
        joblib workers and progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per method (``wald``, ``profile``): ``coverage`` with its Monte-Carlo SE
        ``coverage_mc`` (binomial, :math:`\sqrt{c(1-c)/n}`), ``misses_below`` and
        ``misses_above`` (the interval lies entirely below / above the truth),
        ``mean_width`` and ``n`` (studies with a usable interval).
    """
    n_jobs = check_n_jobs(n_jobs)
    seqs = _seeds(seed, nsim)
    tasks = [(n_subjects, n_days, float(sd), term, coefs, level, s) for s in seqs]
    rows = pd.DataFrame(run_tasks(_coverage_one, tasks, n_jobs=n_jobs, total=nsim,
                                  desc="intervals", progress=progress))
    out = []
    for method in ("wald", "profile"):
        cov = rows[f"{method}_covers"].dropna().astype(float)
        below = rows[f"{method}_below"].dropna().astype(float)
        n = int(cov.size)
        c = float(cov.mean()) if n else math.nan
        out.append({"method": method, "coverage": c,
                    "coverage_mc": math.sqrt(c * (1 - c) / n) if n else math.nan,
                    "misses_below": int(below.sum()),
                    "misses_above": int(n - cov.sum() - below.sum()),
                    "mean_width": float(rows[f"{method}_width"].mean()), "n": n})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------ lesson 06


def _agq_one(n_groups, n_per, sd, intercept, nagqs, seq):
    from glmmteach.model.fit import glmer

    rng = np.random.default_rng(seq)
    g = np.repeat(np.arange(1, n_groups + 1), n_per)
    u = rng.normal(0.0, sd, n_groups)
    y = rng.binomial(1, simulate.inv_logit(intercept + u[g - 1]))
    data = pd.DataFrame({"id": g, "y": y})
    rec = {}
    with _quiet():
        for q in nagqs:
            m = glmer("y ~ 1 + (1|id)", data, nAGQ=q)
            rec[f"sd_{q}"] = float(m.varcorr["sdcor"].iloc[0])
    return [rec]


def agq_study(*, sd: float = 2.0, n_groups: int = 100, n_per: int = 4,
              intercept: float = 0.0, nagqs: Sequence[int] = (1, 10), nsim: int = 100,
              seed=None, n_jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    r"""The random-intercept SD estimated by Laplace and by AGQ, over simulated data sets.

    Each data set: ``n_groups`` clusters of ``n_per`` binary outcomes, logit p = intercept
    + u, u ~ N(0, sd). Fitted ``y ~ 1 + (1|id)`` with each ``nAGQ`` in ``nagqs``.

    Returns
    -------
    pandas.DataFrame
        One row per ``nAGQ``: ``mean_sd`` with its Monte-Carlo SE ``mean_sd_mc``, ``bias``
        (mean_sd - sd), and ``diff_vs_last`` with ``diff_mc``: the mean paired difference to
        the last ``nAGQ`` (which removes most of the data's noise).
    """
    n_jobs = check_n_jobs(n_jobs)
    nagqs = [int(q) for q in nagqs]
    tasks = [(n_groups, n_per, float(sd), float(intercept), nagqs, s)
             for s in _seeds(seed, nsim)]
    rows = pd.DataFrame(run_tasks(_agq_one, tasks, n_jobs=n_jobs, total=nsim,
                                  desc="data sets", progress=progress))
    last = rows[f"sd_{nagqs[-1]}"]
    out = []
    for q in nagqs:
        mean, mc = _mean_mc(rows[f"sd_{q}"])
        dmean, dmc = _mean_mc(rows[f"sd_{q}"] - last)
        out.append({"nAGQ": q, "mean_sd": mean, "mean_sd_mc": mc, "bias": mean - sd,
                    "diff_vs_last": dmean, "diff_mc": dmc})
    return pd.DataFrame(out)
