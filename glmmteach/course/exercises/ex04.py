"""Checkers for exercise 04 (interpreting).

Imports the shared machinery of this package and the library below ``course``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach import simulate
from glmmteach.course.exercises._common import (
    _cell_name,
    _cell_values,
    _cells,
    _checker,
    _context,
    _diagnose,
    _model,
    _pair,
)
from glmmteach.inference.intervals import confint

__all__ = [
    "check_conditional_probabilities",
    "check_combined_odds_ratio",
    "check_marginal_probabilities",
    "check_odds_ratio_vs_risk",
    "check_profile_interval",
]

# --------------------------------------------------------------------------------------------
# exercise 04: interpreting
# --------------------------------------------------------------------------------------------


def _cell_eta(m, factors) -> np.ndarray:
    beta = m.fixef
    eta = []
    for cell in _cells(factors):
        total = 0.0
        for name, v in beta.items():
            parts = [] if name == "(Intercept)" else name.split(":")
            if all(any(part == f"{f}{lev}" for f, lev in zip(factors, cell, strict=True))
                   for part in parts):
                total += float(v)
        eta.append(total)
    return np.array(eta)


def _gh_marginal(eta: np.ndarray, sd: float, n: int = 64) -> np.ndarray:
    """E[inv_logit(eta + sd Z)], Z ~ N(0, 1), by Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    return np.array([float(np.sum(w * simulate.inv_logit(e + sd * x))) for e in eta])


def _observed_props(m, factors):
    """The observed proportion of 1s in each cell of the model's data (None if unknown)."""
    data = m.data
    response = m.formula.split("~")[0].strip()
    if response not in data.columns or any(f not in data.columns for f in factors):
        return None
    y = pd.to_numeric(data[response], errors="coerce")
    keys = data[list(factors)].astype(str).apply(tuple, axis=1)
    return np.array([y[keys == c].mean() for c in _cells(factors)])


@_checker("the probabilities of a typical subject in each cell")
def check_conditional_probabilities(value, *, model, factors) -> str:
    """inv_logit of each cell's fixed-effect log-odds (random effect 0)."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _cell_values(value, factors, "your probabilities")
    eta = _cell_eta(m, factors)
    expected = simulate.inv_logit(eta)
    sd = float(m.varcorr["sdcor"].iloc[0])
    no_int = eta.copy()
    cells = _cells(factors)
    both = [k for k, c in enumerate(cells) if all(lv != factors[f][0]
                                                  for f, lv in zip(factors, c, strict=True))]
    last = list(m.fixef.index)[-1]
    for k in both:
        no_int[k] -= float(m.fixef[last])
    _diagnose(got, expected, [
        (eta, "these are log-odds; apply the inverse logit, 1 / (1 + exp(-eta))"),
        (simulate.inv_logit(no_int), f"the cell with both non-reference levels is off: you "
                                     f"left out the interaction {last!r}"),
        (_gh_marginal(eta, sd), "these are population-averaged (marginal) probabilities; the "
                                "task asks for a typical subject, random effect 0"),
        (np.exp(eta), "these are odds, exp(eta); the probability is odds / (1 + odds)"),
    ], what="your probabilities", rtol=2e-3,
        hint="Add up the coefficients that apply to each cell, then take the inverse logit.")
    return ", ".join(f"{_cell_name(c, factors)}: {v:.4f}"
                     for c, v in zip(cells, expected, strict=True)) + "."


@_checker("the odds ratio with its Wald interval")
def check_combined_odds_ratio(value, *, model, terms: Sequence[str], level: float = 0.95) -> str:
    """exp(sum of ``terms``) and its Wald interval, as ``(estimate, lower, upper)``."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _pair(value, ["estimate", "lower", "upper"], "your (estimate, lower, upper)")
    terms = list(terms)
    b = m.fixef[terms].to_numpy()
    V = m.vcov.loc[terms, terms].to_numpy()
    est = float(b.sum())
    se = math.sqrt(float(V.sum()))
    se_nocov = math.sqrt(float(np.trace(V)))
    z = stats.norm.isf((1 - level) / 2)
    expected = np.exp([est, est - z * se, est + z * se])
    first = float(b[0])
    se_first = math.sqrt(float(V[0, 0]))
    _diagnose(got, expected, [
        ([est, est - z * se, est + z * se], "these are on the log-odds scale; exponentiate "
                                             "all three numbers"),
        (np.exp([est, est - z * se_nocov, est + z * se_nocov]),
         "the estimate is right but the interval ignores the covariance of the two "
         "coefficients: Var(b1 + b3) = Var(b1) + Var(b3) + 2 Cov(b1, b3), from m.vcov"),
        (np.exp([first, first - z * se_first, first + z * se_first]),
         f"this is exp({terms[0]!r}) alone, the odds ratio at the reference level: add the "
         f"interaction"),
        ([math.exp(est), math.exp(est) - z * se, math.exp(est) + z * se],
         "the interval was built on the odds-ratio scale; build it on the log scale, "
         "est +- z * SE, and exponentiate the limits"),
    ], what="your odds ratio and interval", rtol=2e-3,
        hint="Estimate b = sum of the coefficients, SE from the matching block of m.vcov, "
             "then exp(b), exp(b -+ 1.96 SE).")
    return (f"odds ratio {expected[0]:.3f}, {100 * level:.0f}% interval {expected[1]:.3f} to "
            f"{expected[2]:.3f}.")


@_checker("the population-averaged probabilities")
def check_marginal_probabilities(value, *, model, factors) -> str:
    """E over u ~ N(0, sigma) of inv_logit(cell log-odds + u), for each cell."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _cell_values(value, factors, "your probabilities")
    eta = _cell_eta(m, factors)
    sd = float(m.varcorr["sdcor"].iloc[0])
    expected = _gh_marginal(eta, sd)
    observed = _observed_props(m, factors)
    _diagnose(got, expected, [
        (simulate.inv_logit(eta), "these are the probabilities of a typical subject (random "
                                  "effect 0), the conditional ones; average inv_logit(eta + u) "
                                  "over the distribution of u instead"),
        (_gh_marginal(eta, sd**2), "you used the variance as the SD of u"),
        (_gh_marginal(eta, math.sqrt(sd)), "you used the square root of the SD as the SD of u"),
        (100 * expected, "these are percentages; give probabilities (proportions)"),
        (simulate.inv_logit(eta + sd), "these are the probabilities of a subject one SD above "
                                       "average (u = sd); average inv_logit(eta + u) over the "
                                       "whole distribution of u instead"),
        (observed, "these are the observed proportions of the data; the task asks for the "
                   "model's population average, E[inv_logit(eta + u)] with u ~ N(0, sd)"),
    ], what="your probabilities", rtol=0, atol=1.5e-3,
        hint="Draw many u ~ N(0, sd) (at least 100,000: the check allows a difference of "
             "0.0015) or use quadrature, and average inv_logit(eta + u) in each cell.")
    diff = expected - simulate.inv_logit(eta)
    return ("the population averages: " + ", ".join(
        f"{_cell_name(c, factors)}: {v:.3f}" for c, v in zip(_cells(factors), expected,
                                                             strict=True))
            + f". They are pulled towards 0.5 by up to {np.max(np.abs(diff)):.3f} compared "
              f"with a typical subject.")


@_checker("the odds ratio against the difference of probabilities")
def check_odds_ratio_vs_risk(value, *, p_control: float, p_treat: float) -> str:
    """``{"odds_ratio": ..., "risk_difference": ...}`` for two probabilities."""
    got = _pair(value, ["odds_ratio", "risk_difference"], "your answer")
    odds = lambda p: p / (1 - p)  # noqa: E731
    orr = odds(p_treat) / odds(p_control)
    rd = p_treat - p_control
    _diagnose(got, [orr, rd], [
        ([p_treat / p_control, rd], "the first number is the ratio of probabilities (relative "
                                    "risk); the odds ratio divides odds"),
        ([1 / orr, rd], "the odds ratio is upside down: treated odds over control odds"),
        ([orr, 100 * rd], "the difference is in percentage points; give it as a proportion"),
        ([orr, -rd], "the difference has the wrong sign: treated minus control"),
        ([math.log(orr), rd], "this is the log odds ratio; exponentiate it"),
        ([orr, rd / p_control], "the second number is the relative change of the "
                                "probability; the risk difference is p_treat - p_control"),
        ([p_treat / p_control, 100 * rd], "the first number is a ratio of probabilities, not "
                                           "of odds, and the second is in percentage points"),
    ], what="your odds ratio and risk difference", rtol=2e-3, atol=1e-6,
        hint="odds_ratio = (p1 / (1 - p1)) / (p0 / (1 - p0)) and risk_difference = p1 - p0, "
             "with p1 the treated probability and p0 the control one.")
    return (f"odds ratio {orr:.3f} but only {rd:+.3f} in probability: a large odds ratio can "
            f"describe a small change when both probabilities are small.")


@_checker("the profile-likelihood interval of the odds ratio")
def check_profile_interval(value, *, model, term: str, level: float = 0.95) -> str:
    """exp of the profile interval of ``term`` as ``(lower, upper)``."""
    m = _model(_context(model, "the fitted model"), "model")
    got = _pair(value, ["lower", "upper"], "your interval")
    ci = confint(m, parm=term, level=level, method="profile")
    lo, hi = (float(v) for v in ci.iloc[0, :2])
    wald = confint(m, parm=term, level=level, method="wald")
    wlo, whi = (float(v) for v in wald.iloc[0, :2])
    expected = np.exp([lo, hi])
    # An answer rounded to 3 decimals is accepted; the Wald interval differs from the
    # profile one by more than that here, so the two methods are told apart.
    tol = dict(rtol=0.0, atol=np.maximum(6e-4, 2e-4 * np.abs(expected)))
    mistakes = [
        (np.exp([wlo, whi]), f"this is the Wald interval (estimate +- 1.96 SE: "
                             f"{np.exp(wlo):.3f} to {np.exp(whi):.3f}); the task asks for the "
                             f"profile-likelihood interval, confint(m, parm={term!r}, "
                             f"method='profile'), which follows the log-likelihood instead of "
                             f"a parabola"),
        ([lo, hi], "this interval is on the log-odds scale; exponentiate both limits"),
        ([wlo, whi], "this is the Wald interval on the log-odds scale; the task asks for the "
                     "profile interval, exponentiated"),
    ]
    for other in (t for t in m.fixef.index if t != term):
        olo, ohi = (float(v) for v in confint(m, parm=other, level=level,
                                              method="profile").iloc[0, :2])
        mistakes.append((np.exp([olo, ohi]), f"this is the interval of {other!r}; the task "
                                             f"asks for {term!r}"))
    for lev in (0.90, 0.99):
        if not math.isclose(lev, level):
            llo, lhi = (float(v) for v in confint(m, parm=term, level=lev,
                                                  method="profile").iloc[0, :2])
            mistakes.append((np.exp([llo, lhi]), f"this is the {100 * lev:.0f}% interval; "
                                                 f"the task asks for {100 * level:.0f}% "
                                                 f"(level={level})"))
    _diagnose(got, expected, mistakes, what="your interval", **tol,
              hint=f"np.exp(confint(m, parm={term!r}, method='profile')).")
    return (f"{expected[0]:.3f} to {expected[1]:.3f}: the odds ratio is at least "
            f"{expected[0]:.2f} with {100 * level:.0f}% confidence.")


