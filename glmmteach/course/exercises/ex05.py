"""Checkers for exercise 05 (checking).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach.course.exercises._common import (
    _checker,
    _context,
    _diagnose,
    _frame,
    _Invalid,
    _model,
    _pair,
    _Wrong,
)

__all__ = [
    "check_lrt",
    "check_flagged_cells",
    "check_residual_group_test",
]

# --------------------------------------------------------------------------------------------
# exercise 05: checking
# --------------------------------------------------------------------------------------------


@_checker("the likelihood-ratio test")
def check_lrt(value, *, small, big) -> str:
    """``{"chisq": ..., "df": ..., "p": ...}`` comparing two nested fits."""
    small = _model(_context(small, "the smaller model"), "the smaller model")
    big = _model(_context(big, "the larger model"), "the larger model")
    got = _pair(value, ["chisq", "df", "p"], "your (chisq, df, p)")
    chisq = 2 * (big.loglik - small.loglik)
    df = big.n_params - small.n_params
    p = stats.chi2.sf(chisq, df)
    half = chisq / 2
    candidates = [
        ([chisq, df, p / 2], f"the p-value is halved ({p / 2:.3g}): the likelihood-ratio test "
                             f"of a fixed effect uses the whole upper tail, "
                             f"stats.chi2.sf(chisq, df) = {p:.3g}. (Halving belongs to tests "
                             f"of a variance on the boundary 0, not to this one.)"),
        ([half, df, stats.chi2.sf(half, df)], "the statistic is twice the difference of the "
                                              "log-likelihoods; you left out the factor 2"),
        ([-chisq, df, 1.0], "the statistic is negative: larger model minus smaller model"),
        ([chisq, df, 1 - p], "the p-value is the lower tail, chi2.cdf; the test uses the "
                             "upper tail, stats.chi2.sf(chisq, df)"),
        ([chisq, df + 1, stats.chi2.sf(chisq, df + 1)],
         "the degrees of freedom are the difference in the number of parameters"),
        ([chisq, big.n_params, stats.chi2.sf(chisq, big.n_params)],
         "the degrees of freedom are the *difference* in the number of parameters, not the "
         "larger model's count"),
        ([chisq, df, 100 * p], "the p-value is a percentage; give it as a proportion"),
    ]
    if df > 1:  # for df = 1 this equals the halved p-value, diagnosed above
        candidates.append(([chisq, df, stats.norm.sf(math.sqrt(max(chisq, 0)))],
                           "this p-value comes from the normal distribution of sqrt(chisq); "
                           "use the chi-squared distribution, stats.chi2.sf(chisq, df)"))
    _diagnose(got, [chisq, df, p], candidates, what="your (chisq, df, p)", rtol=2e-3,
              atol=[1e-6, 1e-9, 0.0],
              hint="chisq = 2 * (big.loglik - small.loglik), df = big.n_params - "
                   "small.n_params, p = stats.chi2.sf(chisq, df).")
    return (f"chi-squared {chisq:.2f} on {df} df, p = {p:.3g}: the interaction is clearly "
            f"needed." if p < 0.05 else f"chi-squared {chisq:.2f} on {df} df, p = {p:.3g}.")


def _cell_keys(value, by: Sequence[str]) -> set[tuple[str, ...]]:
    if isinstance(value, pd.DataFrame):
        _frame(value, by, "your cells")
        return {tuple(str(v) for v in row) for row in value[list(by)].itertuples(index=False)}
    if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset | np.ndarray):
        raise _Invalid("give the cells as a list, e.g. [('poster', 'older')], or an empty list "
                       "if no cell is flagged")
    out = set()
    for item in value:
        if isinstance(item, str):
            parts = tuple(item.split(".")) if "." in item else tuple(item.split(":"))
        elif isinstance(item, Sequence):
            parts = tuple(str(v) for v in item)
        else:
            raise _Invalid(f"cannot read the cell {item!r}; write it as a tuple of levels, "
                           f"e.g. ('poster', 'older')")
        if len(parts) != len(by):
            raise _Invalid(f"the cell {item!r} should name one level of each of {list(by)}")
        out.add(parts)
    return out


@_checker("the cells the model misses")
def check_flagged_cells(value, *, model, by: Sequence[str], nsim: int, seed: int,
                        alpha: float = 0.05, other_model=None) -> str:
    """Cells whose predictive-check p-value is below ``alpha``."""
    from glmmteach.diagnostics import checks

    m = _model(_context(model, "the fitted model"), "model")
    got = _cell_keys(value, by)
    summary = checks.predictive_check(m, by=list(by), nsim=nsim, seed=seed).summary()
    keys = [tuple(str(v) for v in row) for row in summary[list(by)].itertuples(index=False)]
    pvals = dict(zip(keys, summary["p_value"], strict=True))
    expected = {k for k, pv in pvals.items() if pv < alpha}
    if got == expected:
        return ("the model misses " + (", ".join(".".join(k) for k in sorted(expected))
                                       if expected else "no cell")
                + f" (p-values {', '.join(f'{pvals[k]:.3f}' for k in sorted(expected))}).")
    unknown = got - set(keys)
    if unknown:
        raise _Invalid(f"{sorted(unknown)[0]!r} is not a cell of the data; cells are "
                       f"{keys}")
    if got == set(keys):
        raise _Wrong("you listed every cell; keep only those whose p_value is below "
                     f"{alpha}")
    if got and got == {k for k, pv in pvals.items() if pv >= alpha}:
        raise _Wrong(f"these are the cells the model reproduces well (p_value >= {alpha}); "
                     f"the task asks for the ones it misses")
    if other_model is not None:
        om = _model(_context(other_model, "the other model"), "the other model")
        s2 = checks.predictive_check(om, by=list(by), nsim=nsim, seed=seed).summary()
        k2 = {tuple(str(v) for v in row[:len(by)])
              for row in s2[[*by, "p_value"]].itertuples(index=False) if row[-1] < alpha}
        if got == k2:
            raise _Wrong("these are the flagged cells of the other model; check the model "
                         "without the interaction")
    raise _Wrong(f"not the right cells. Use checks.predictive_check(model, by={list(by)}, "
                 f"nsim={nsim}, seed={seed}).summary() and keep the rows with p_value < "
                 f"{alpha}")


@_checker("the residual test by cell")
def check_residual_group_test(value, *, models: Mapping[str, object], by: Sequence[str],
                              nsim: int, seed: int, group: str = "id") -> str:
    """``{name: p}``: p-value of checks.group_test on per-``group`` scaled residuals."""
    from glmmteach.diagnostics import checks

    names = list(models)
    got = _pair(value, names, "your p-values")
    fitted = {k: _model(_context(v, f"the model {k!r}"), k) for k, v in models.items()}

    def p_of(m, grp, test):
        res = checks.scaled_residuals(m, nsim=nsim, seed=seed, group=grp)
        return (checks.group_test(res, by=list(by)) if test == "group"
                else checks.uniformity_test(res)).p_value

    expected = np.array([p_of(fitted[k], group, "group") for k in names])
    _diagnose(got, expected, [
        (expected[::-1], "the two p-values are swapped between the models"),
        (np.array([p_of(fitted[k], None, "group") for k in names]),
         f"these come from residuals per observation; single 0/1 rows say little. Use "
         f"group={group!r} in scaled_residuals"),
        (np.array([p_of(fitted[k], group, "ks") for k in names]),
         f"these are uniformity (Kolmogorov-Smirnov) tests of all residuals pooled; the task "
         f"asks for group_test(res, by={list(by)}), which compares the cells"),
    ], what="your p-values", rtol=1e-3, atol=1e-12,
        hint=f"scaled_residuals(model, nsim={nsim}, seed={seed}, group={group!r}), then "
             f"group_test(res, by={list(by)}).p_value for each model.")
    return ", ".join(f"{k}: p = {p:.3g}" for k, p in zip(names, expected, strict=True)) + (
        ". Only a check that looks where a model could be wrong (here: the cells) can see it.")


