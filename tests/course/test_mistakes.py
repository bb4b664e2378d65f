"""The mistake catalogue: for every exercise task, the wrong answers students plausibly give.

Each mistake is built from the task's givens by making one known error (another scale, a
variance for an SD, a percentage for a proportion, a forgotten interaction, the conditional
for the marginal quantity, the Wald for the profile interval, a one- for a two-sided test,
the wrong factor or term, a plain wrong type or shape). Each must get its *own* diagnosis:
never "Correct", and a message containing the fragment that names that mistake. The right
answer of every task is checked too, so that a checker that rejects everything fails here.

The data are the exercises' own (same seeds), so the catalogue tests the feedback a student
of the course actually sees.
"""

from __future__ import annotations

import math
import warnings
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from glmmteach import SingularFitWarning, confint, glmer, simulate
from glmmteach.course import exercises as ex
from glmmteach.course import power
from glmmteach.diagnostics import checks

FACTORS = {"prompt": ["none", "poster"], "age": ["younger", "older"]}
PROBS = simulate.cell_table({
    ("none", "younger"): 0.25, ("poster", "younger"): 0.60,
    ("none", "older"): 0.20, ("poster", "older"): 0.22,
}, FACTORS)
COEFS = simulate.probs_to_coefs(PROBS, FACTORS)
SEED = 2024
INT = "promptposter:ageolder"
F2 = ["prompt", "age"]
KEYS = list(PROBS.index)


def _keys(frame):
    return pd.MultiIndex.from_frame(frame[F2].astype(str))


class Course:
    """The exercises' data and fits, built on first use."""

    # ------------------------------------------------------------------ exercise 01
    @cached_property
    def design(self):
        return simulate.make_design(n_subjects=120, n_days=10, factors=FACTORS, seed=SEED)

    @cached_property
    def naive(self):
        return simulate.simulate_probability_scale(self.design, PROBS, sd=0.10, factors=FACTORS,
                                                   seed=SEED, on_impossible="missing")

    def naive_like(self, p, y=None, seed=1):
        d = self.design.copy()
        d["p"] = p
        if y is None:
            rng = np.random.default_rng(seed)
            ok = (d["p"] >= 0) & (d["p"] <= 1)
            y = pd.Series(np.nan, index=d.index)
            y[ok] = rng.binomial(1, d["p"][ok].to_numpy())
        d["y"] = y
        return d

    def subject_normal(self, sd, seed=7, design=None):
        design = self.design if design is None else design
        z = np.random.default_rng(seed).standard_normal(design["id"].nunique())
        return sd * z[design["id"].to_numpy() - 1]

    # ------------------------------------------------------------------ exercise 02
    @cached_property
    def design150(self):
        return simulate.make_design(n_subjects=150, n_days=10, factors=FACTORS, seed=SEED)

    @cached_property
    def logit_sim(self):
        return simulate.simulate_logit_scale(self.design150, COEFS, sd=1.5, factors=FACTORS,
                                             seed=SEED)

    def logit_like(self, coefs=COEFS, sd=1.5, on_prob=False, y_from=None, seed=11):
        d = self.design150.copy()
        u = self.subject_normal(sd, seed=seed, design=d)
        eta = simulate.coefs_to_probs(coefs, FACTORS).pipe(simulate.logit)
        eta = eta.reindex(_keys(d)).to_numpy()
        p = simulate.inv_logit(eta) + u if on_prob else simulate.inv_logit(eta + u)
        d["p"] = p
        rng = np.random.default_rng(seed + 1)
        d["y"] = rng.binomial(1, np.clip(p, 0, 1) if y_from is None else y_from(d))
        return d

    # ------------------------------------------------------------------ exercises 03-05
    @cached_property
    def stairs(self):
        s = simulate.simulate_logit_scale(simulate.make_design(200, 10, FACTORS, seed=35),
                                          COEFS, sd=0.8, factors=FACTORS, seed=36)
        return s[["id", "day", "prompt", "age", "y"]]

    @cached_property
    def m(self):
        return glmer("y ~ prompt * age + (1|id)", self.stairs)

    @cached_property
    def m_add(self):
        return glmer("y ~ prompt + age + (1|id)", self.stairs)

    @cached_property
    def eta(self):
        b = self.m.fixef
        return np.array([b.iloc[0], b.iloc[0] + b.iloc[1], b.iloc[0] + b.iloc[2], b.sum()])

    @cached_property
    def sd_hat(self):
        return float(self.m.varcorr["sdcor"].iloc[0])

    def marginal(self, sd):
        x, w = np.polynomial.hermite_e.hermegauss(64)
        w = w / w.sum()
        return np.array([float(np.sum(w * simulate.inv_logit(e + sd * x))) for e in self.eta])

    def cells(self, values):
        return pd.Series(values, index=PROBS.index)

    # ------------------------------------------------------------------ exercise 06
    def power(self, sizes=(40, 80), **kw):
        args = dict(n_days=10, coefs=COEFS, sd=0.8, factors=FACTORS, term=INT, nsim=12,
                    seed=SEED, n_jobs=1, progress=False)
        args.update(kw)
        return power.power_curve(list(sizes), **args)

    @cached_property
    def null_coefs(self):
        c = COEFS.copy()
        c[INT] = 0.0
        return c

    @cached_property
    def habits(self):
        rng = np.random.default_rng(64)
        habits = simulate.make_design(150, 10, FACTORS, seed=rng)
        cov = np.array([[0.7**2, 0.4 * 0.7 * 0.15], [0.4 * 0.7 * 0.15, 0.15**2]])
        u = rng.multivariate_normal([0.0, 0.0], cov, size=150)
        j, t = habits["id"].to_numpy() - 1, habits["day"].to_numpy() - 1
        eta = (-1.0 + 1.2 * (habits["prompt"] == "poster").to_numpy() + 0.04 * t + u[j, 0]
               + u[j, 1] * t)
        return habits.assign(day0=t, y=rng.binomial(1, simulate.inv_logit(eta)))

    @cached_property
    def m_slopes(self):
        return glmer("y ~ prompt + day0 + (1 + day0 | id)", self.habits)

    @cached_property
    def pilot(self):
        return simulate.simulate_logit_scale(power.balanced_design(24, 10, FACTORS), COEFS,
                                             sd=0.05, factors=FACTORS, seed=70)


C = Course()


def _wald(m, term):
    z = float(m.fixef[term] / m.bse[term])
    return z, 2 * stats.norm.sf(abs(z))


def _glm_se(c, term):
    import statsmodels.api as sm

    X = np.asarray(c.m.design.X)
    glm = sm.GLM(np.asarray(c.m.design.y), X, family=sm.families.Binomial()).fit()
    return float(glm.bse[list(c.m.design.xnames).index(term)])


def _profile(c, term, level=0.95, method="profile"):
    return tuple(np.exp(confint(c.m, parm=term, level=level, method=method).iloc[0, :2]
                        .to_numpy(dtype=float)))


def _lrt(c):
    chisq = 2 * (c.m.loglik - c.m_add.loglik)
    df = c.m.n_params - c.m_add.n_params
    return chisq, df, stats.chi2.sf(chisq, df)


def _pcheck(model, nsim=40, seed=5):
    return checks.predictive_check(model, by=F2, nsim=nsim, seed=seed).summary()


def _group_p(model, group="id", test="group", nsim=40, seed=6):
    res = checks.scaled_residuals(model, nsim=nsim, seed=seed, group=group)
    return (checks.group_test(res, by=F2) if test == "group"
            else checks.uniformity_test(res)).p_value


# ---------------------------------------------------------------------------------- checks
# task id -> the check cell, given the context and the answer


def _check_lrt(c, a):
    return ex.check_lrt(lambda: a, small=c.m_add, big=c.m)


CHECKS = {
    "01.1 design": lambda c, a: ex.check_design(lambda: a, n_subjects=120, n_days=10,
                                                factors=FACTORS),
    "01.2 effect by level": lambda c, a: ex.check_effect_by_level(
        lambda: a, cell_probs=PROBS, factors=FACTORS, effect="prompt", by="age"),
    "01.3 naive simulation": lambda c, a: ex.check_naive_simulation(
        lambda: a, cell_probs=PROBS, sd=0.10, factors=FACTORS),
    "01.4 impossible share": lambda c, a: ex.check_impossible_share(
        lambda: a, cell_probs=PROBS, sd=0.25, factors=FACTORS),
    "01.5 cell proportions": lambda c, a: ex.check_cell_proportions(
        lambda: a, data=lambda: c.naive, by=F2, planned=PROBS),
    "02.1 log-odds": lambda c, a: ex.check_log_odds(lambda: a, probs=PROBS),
    "02.2 coefficients": lambda c, a: ex.check_coefficients(lambda: a, cell_probs=PROBS,
                                                            factors=FACTORS),
    "02.3 odds ratio": lambda c, a: ex.check_odds_ratio(
        lambda: a, cell_probs=PROBS, factors=FACTORS, effect="prompt", among={"age": "older"}),
    "02.4 logit simulation": lambda c, a: ex.check_logit_simulation(
        lambda: a, coefs=COEFS, sd=1.5, factors=FACTORS),
    "03.1 fitted model": lambda c, a: ex.check_fitted_model(lambda: a, data=c.stairs,
                                                            factors=F2),
    "03.2 random SD": lambda c, a: ex.check_random_sd(
        lambda: a, data=c.stairs, formula="y ~ prompt * age + (1|id)", true_sd=0.8),
    "03.3 Wald test": lambda c, a: ex.check_wald_test(
        lambda: a, data=c.stairs, formula="y ~ prompt * age + (1|id)", term=INT),
    "03.4 SE ratio": lambda c, a: ex.check_se_ratio(
        lambda: a, data=c.stairs, formula="y ~ prompt * age + (1|id)", term="promptposter"),
    "04.1 conditional probabilities": lambda c, a: ex.check_conditional_probabilities(
        lambda: a, model=c.m, factors=FACTORS),
    "04.2 combined odds ratio": lambda c, a: ex.check_combined_odds_ratio(
        lambda: a, model=c.m, terms=["promptposter", INT]),
    "04.3 marginal probabilities": lambda c, a: ex.check_marginal_probabilities(
        lambda: a, model=c.m, factors=FACTORS),
    "04.4 odds ratio vs risk": lambda c, a: ex.check_odds_ratio_vs_risk(
        lambda: a, p_control=0.02, p_treat=0.05),
    "04.5 profile interval": lambda c, a: ex.check_profile_interval(
        lambda: a, model=c.m, term="promptposter"),
    "05.1 LRT": _check_lrt,
    "05.2 cell proportions": lambda c, a: ex.check_cell_proportions(lambda: a, data=c.stairs,
                                                                    by=F2, planned=PROBS),
    "05.3 flagged cells": lambda c, a: ex.check_flagged_cells(
        lambda: a, model=c.m_add, by=F2, nsim=40, seed=5, other_model=c.m),
    "05.4 residual group test": lambda c, a: ex.check_residual_group_test(
        lambda: a, models={"interaction": c.m, "additive": c.m_add}, by=F2, nsim=40, seed=6),
    "06.1 power estimate": lambda c, a: ex.check_power_estimate(lambda: a, rejections=190,
                                                                nsim=250),
    "06.2 nsim needed": lambda c, a: ex.check_nsim_needed(lambda: a, power=0.8,
                                                          target_se=0.01),
    "06.3 power curve": lambda c, a: ex.check_power_result(
        lambda: a, n_subjects=[40, 80], n_days=10, sd=0.8, coefs=COEFS, factors=FACTORS,
        term=INT, nsim=12),
    "06.4 type-I error": lambda c, a: ex.check_type_one_error(
        lambda: a, n_subjects=24, n_days=10, sd=0.8, coefs=COEFS, factors=FACTORS, term=INT,
        nsim=12),
    "06.5 slope correlation": lambda c, a: ex.check_slope_correlation(
        lambda: a, data=c.habits, formula="y ~ prompt + day0 + (1 + day0 | id)", time="day0",
        centred_at=4.5),
    "06.6 singular SD": lambda c, a: ex.check_singular_sd(
        lambda: a, data=c.pilot, formula="y ~ prompt * age + (1|id)", true_sd=0.05),
}


def _by_age(values):
    return pd.Series(values, index=["younger", "older"])


def _poster_effect():
    wide = PROBS.unstack("prompt")
    return wide["poster"] - wide["none"]


def _share(sd, fn=None):
    p = PROBS.to_numpy()
    return float(np.mean(stats.norm.cdf(-p / sd) + stats.norm.cdf((p - 1) / sd)))


def _y_without(c):
    p = _naive_base(c) + c.subject_normal(0.10)
    y = np.random.default_rng(5).binomial(1, _naive_base(c)).astype(float)
    y[(p < 0) | (p > 1)] = np.nan
    return y


def _naive_base(c):
    return PROBS.reindex(_keys(c.design)).to_numpy()


def _fit_quiet(formula, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return glmer(formula, data)


def _varcorr_sd(m):
    return float(m.varcorr["sdcor"].iloc[0])


# ------------------------------------------------------------------------------ right answers

RIGHT = {
    "01.1 design": lambda c: c.design,
    "01.2 effect by level": lambda c: _poster_effect(),
    "01.3 naive simulation": lambda c: c.naive,
    "01.4 impossible share": lambda c: _share(0.25),
    "01.5 cell proportions": lambda c: c.naive.groupby(F2, observed=True)["y"].mean(),
    "02.1 log-odds": lambda c: np.log(PROBS / (1 - PROBS)),
    "02.2 coefficients": lambda c: dict(COEFS),
    "02.3 odds ratio": lambda c: math.exp(COEFS["promptposter"] + COEFS[INT]),
    "02.4 logit simulation": lambda c: c.logit_sim,
    "03.1 fitted model": lambda c: c.m,
    "03.2 random SD": lambda c: c.sd_hat,
    "03.3 Wald test": lambda c: _wald(c.m, INT),
    "03.4 SE ratio": lambda c: _glm_se(c, "promptposter") / float(c.m.bse["promptposter"]),
    "04.1 conditional probabilities": lambda c: c.cells(simulate.inv_logit(c.eta)),
    "04.2 combined odds ratio": lambda c: _combined(c),
    "04.3 marginal probabilities": lambda c: c.cells(c.marginal(c.sd_hat)),
    "04.4 odds ratio vs risk": lambda c: {"odds_ratio": (0.05 / 0.95) / (0.02 / 0.98),
                                          "risk_difference": 0.03},
    "04.5 profile interval": lambda c: _profile(c, "promptposter"),
    "05.1 LRT": lambda c: dict(zip(["chisq", "df", "p"], _lrt(c), strict=True)),
    "05.2 cell proportions": lambda c: c.stairs.groupby(F2, observed=True)["y"].mean(),
    "05.3 flagged cells": lambda c: [(r.prompt, r.age) for r in _pcheck(c.m_add).itertuples()
                                     if r.p_value < 0.05],
    "05.4 residual group test": lambda c: {"interaction": _group_p(c.m),
                                           "additive": _group_p(c.m_add)},
    "06.1 power estimate": lambda c: (0.76, math.sqrt(0.76 * 0.24 / 250)),
    "06.2 nsim needed": lambda c: 1600,
    "06.3 power curve": lambda c: c.power(),
    "06.4 type-I error": lambda c: c.power([24], coefs=c.null_coefs),
    "06.5 slope correlation": lambda c: float(c.m_slopes.varcorr["sdcor"].iloc[2]),
    "06.6 singular SD": lambda c: _varcorr_sd(_fit_quiet("y ~ prompt * age + (1|id)",
                                                         c.pilot)),
}


def _combined(c, scale="odds", cov=True, terms=("promptposter", INT)):
    terms = list(terms)
    b = float(c.m.fixef[terms].sum())
    V = c.m.vcov.loc[terms, terms].to_numpy()
    se = math.sqrt(float(V.sum() if cov else np.trace(V)))
    z = stats.norm.isf(0.025)
    out = np.array([b, b - z * se, b + z * se])
    return tuple(np.exp(out)) if scale == "odds" else tuple(out)


# ------------------------------------------------------------------------------ the catalogue
# task id -> [(mistake id, answer builder, message fragment)]

MISTAKES = {
    "01.1 design": [
        ("one row per subject", lambda c: c.design.drop_duplicates("id"), "one per subject"),
        ("n_subjects and n_days swapped",
         lambda c: simulate.make_design(n_subjects=10, n_days=120, factors=FACTORS, seed=SEED),
         "ids"),
        ("factor drawn per row", lambda c: c.design.assign(
            prompt=np.random.default_rng(1).choice(["none", "poster"], len(c.design))),
         "between-subject factor"),
        ("a level misspelled", lambda c: c.design.assign(
            age=c.design["age"].astype(str).replace("older", "old")), "'old'"),
        ("wrong type: the cell table", lambda c: PROBS, "DataFrame"),
        ("a column missing", lambda c: c.design.drop(columns="age"), "'age'"),
    ],
    "01.2 effect by level": [
        ("reversed subtraction", lambda c: -_poster_effect(), "signs are reversed"),
        ("ratio of probabilities", lambda c: (PROBS.unstack("prompt")["poster"]
                                              / PROBS.unstack("prompt")["none"]),
         "ratios of probabilities"),
        ("wrong factor: age effect within prompt", lambda c: _by_age(
            (PROBS.unstack("age")["older"] - PROBS.unstack("age")["younger"]).to_numpy()),
         "effect of 'age' within each level of 'prompt'"),
        ("percentage points", lambda c: 100 * _poster_effect(), "percentage points"),
        ("wrong shape: one number", lambda c: 0.35, "2 numbers"),
        ("indexed by the wrong factor", lambda c: pd.Series([0.1, 0.2], index=["none", "poster"]),
         "'younger' is missing"),
    ],
    "01.3 naive simulation": [
        ("logit scale (lesson 02's recipe)", lambda c: simulate.simulate_logit_scale(
            c.design, simulate.probs_to_coefs(PROBS, FACTORS), sd=0.10, factors=FACTORS,
            seed=SEED), "log-odds scale"),
        ("variance passed as SD", lambda c: simulate.simulate_probability_scale(
            c.design, PROBS, sd=0.01, factors=FACTORS, seed=SEED, on_impossible="missing"),
         "variance"),
        ("percentage-point SD", lambda c: c.naive_like(_naive_base(c) + c.subject_normal(10)),
         "percentage points"),
        ("clipped probabilities", lambda c: c.naive_like(
            np.clip(_naive_base(c) + c.subject_normal(0.10), 0, 1)), "clip"),
        ("effect drawn per row", lambda c: c.naive_like(
            _naive_base(c) + np.random.default_rng(3).normal(0, 0.1, len(c.design))),
         "changes from day to day"),
        ("cell probabilities in the wrong order", lambda c: c.naive_like(
            PROBS.iloc[[0, 2, 1, 3]].set_axis(PROBS.index).reindex(_keys(c.design)).to_numpy()
            + c.subject_normal(0.10)), "not centred"),
        ("y drawn without the random effect", lambda c: c.naive_like(
            _naive_base(c) + c.subject_normal(0.10), y=_y_without(c)),
         "without the subjects' random effects"),
        ("y kept where p is impossible", lambda c: c.naive_like(
            _naive_base(c) + c.subject_normal(0.10),
            y=np.random.default_rng(5).binomial(1, np.clip(_naive_base(c)
                                                          + c.subject_normal(0.10), 0, 1))
            .astype(float)), "must be missing there"),
        ("wrong type: a Series", lambda c: c.naive["y"], "DataFrame"),
    ],
    "01.4 impossible share": [
        ("only below 0", lambda c: float(np.mean(stats.norm.cdf(-PROBS.to_numpy() / 0.25))),
         "only the subjects pushed below 0"),
        ("share of possible ones", lambda c: 1 - _share(0.25), "1 minus"),
        ("percent", lambda c: 100 * _share(0.25), "percentage"),
        ("variance instead of SD", lambda c: float(np.mean(
            stats.norm.cdf(-PROBS.to_numpy() / 0.0625)
            + stats.norm.cdf((PROBS.to_numpy() - 1) / 0.0625))), "variance"),
        ("summed over cells", lambda c: 4 * _share(0.25), "average them"),
        ("wrong shape: per cell", lambda c: list(
            stats.norm.cdf(-PROBS.to_numpy() / 0.25)), "single number"),
        ("wrong SD (the task-3 SD)", lambda c: _share(0.10), "does not match"),
    ],
    "01.5 cell proportions": [
        ("missing counted as 0", lambda c: c.naive.fillna({"y": 0}).groupby(
            F2, observed=True)["y"].mean(), "counted as 0"),
        ("counts of 1s", lambda c: c.naive.groupby(F2, observed=True)["y"].sum(),
         "counts of 1s"),
        ("percent", lambda c: 100 * c.naive.groupby(F2, observed=True)["y"].mean(),
         "percentages"),
        ("planned instead of observed", lambda c: PROBS, "planned probabilities"),
        ("log-odds of the proportions", lambda c: simulate.logit(
            c.naive.groupby(F2, observed=True)["y"].mean()), "log-odds"),
        ("wrong shape: by prompt only", lambda c: c.naive.groupby("prompt", observed=True)[
            "y"].mean(), "cell"),
    ],
    "02.1 log-odds": [
        ("odds", lambda c: PROBS / (1 - PROBS), "odds p / (1 - p)"),
        ("log10", lambda c: np.log10(PROBS / (1 - PROBS)), "log10"),
        ("log(p)", lambda c: np.log(PROBS), "log(p)"),
        ("flipped", lambda c: np.log((1 - PROBS) / PROBS), "other* outcome"),
        ("probabilities", lambda c: PROBS, "still probabilities"),
        ("percent into logit", lambda c: PROBS * 100, "in percent"),
        ("wrong shape", lambda c: PROBS.to_numpy()[:3], "4 numbers"),
    ],
    "02.2 coefficients": [
        ("probability scale", lambda c: _linear(PROBS.to_numpy()), "differences of probabilities"),
        ("exponentiated", lambda c: np.exp(COEFS), "exponentiated"),
        ("interaction 0", lambda c: COEFS.where(COEFS.index != INT, 0.0), "is 0 in your answer"),
        ("interaction left out", lambda c: dict(COEFS.drop(INT)), "you have no"),
        ("interaction flipped", lambda c: COEFS.where(COEFS.index != INT, -COEFS[INT]),
         "wrong sign"),
        ("wrong names (statsmodels')", lambda c: dict(zip(
            ["Intercept", "prompt[T.poster]", "age[T.older]", "prompt[T.poster]:age[T.older]"],
            COEFS, strict=True)), "named as R names them"),
    ],
    "02.3 odds ratio": [
        ("reference level (interaction forgotten)", lambda c: math.exp(COEFS["promptposter"]),
         "forgot to add the interaction"),
        ("log odds ratio", lambda c: COEFS["promptposter"] + COEFS[INT], "log odds ratio"),
        ("relative risk", lambda c: 0.22 / 0.20, "relative risk"),
        ("risk difference", lambda c: 0.22 - 0.20, "difference of probabilities"),
        ("upside down", lambda c: 1 / math.exp(COEFS["promptposter"] + COEFS[INT]),
         "upside down"),
        ("wrong type: a string", lambda c: "1.13", "text"),
    ],
    "02.4 logit simulation": [
        ("interaction left out of the truth", lambda c: c.logit_like(
            COEFS.where(COEFS.index != INT, 0.0)), "leave out the interaction"),
        ("variance passed as SD", lambda c: simulate.simulate_logit_scale(
            c.design150, COEFS, sd=1.5**2, factors=FACTORS, seed=SEED), "variance"),
        ("sqrt of the SD", lambda c: simulate.simulate_logit_scale(
            c.design150, COEFS, sd=math.sqrt(1.5), factors=FACTORS, seed=SEED), "sqrt(sd)"),
        ("random effect on the probability scale", lambda c: c.logit_like(on_prob=True),
         "added to the probability"),
        ("probabilities passed as coefficients", lambda c: c.logit_like(
            pd.Series(PROBS.to_numpy(), index=COEFS.index)), "not centred"),
        ("y drawn without the random effect", lambda c: c.logit_like(
            y_from=lambda d: COEFS.pipe(simulate.coefs_to_probs, FACTORS).reindex(
                _keys(d)).to_numpy()), "without the subjects' random effects"),
        ("y flipped", lambda c: c.logit_sim.assign(y=1 - c.logit_sim["y"]), "flipped"),
        ("effect drawn per row", lambda c: c.logit_sim.assign(p=simulate.inv_logit(
            c.logit_sim["eta"] + np.random.default_rng(2).normal(0, 1.5, len(c.logit_sim)))),
         "changes from day to day"),
        ("wrong type: only p", lambda c: c.logit_sim["p"], "DataFrame"),
    ],
    "03.1 fitted model": [
        ("no interaction", lambda c: c.m_add, "no interaction"),
        ("grouped by day", lambda c: _fit_quiet("y ~ prompt * age + (1|day)", c.stairs),
         "(1|id)"),
        ("a factor left out", lambda c: glmer("y ~ prompt + (1|id)", c.stairs),
         "no term for 'age'"),
        ("other data", lambda c: glmer("y ~ prompt * age + (1|id)", c.stairs.iloc[:1000]),
         "other data"),
        ("statsmodels GLM", lambda c: _statsmodels_glm(c), "statsmodels"),
        ("the formula text", lambda c: "y ~ prompt * age + (1|id)", "glmer"),
    ],
    "03.2 random SD": [
        ("variance", lambda c: c.sd_hat**2, "variance"),
        ("SD of ranef", lambda c: float(np.std(c.m.ranef()["id"].iloc[:, 0], ddof=1)), "shrunk"),
        ("the true SD", lambda c: 0.8, "simulated with"),
        ("sqrt of the SD", lambda c: math.sqrt(c.sd_hat), "square root of the SD"),
        ("exp of the SD", lambda c: math.exp(c.sd_hat), "exp(SD)"),
        ("wrong shape: the varcorr frame", lambda c: c.m.varcorr, "single number"),
    ],
    "03.3 Wald test": [
        ("one-sided norm.cdf(z)", lambda c: (_wald(c.m, INT)[0],
                                             stats.norm.cdf(_wald(c.m, INT)[0])), "one-sided"),
        ("one-sided norm.sf(z) (wrong tail)", lambda c: (_wald(c.m, INT)[0],
                                                        stats.norm.sf(_wald(c.m, INT)[0])),
         "wrong side"),
        ("divided by the variance", lambda c: (
            float(c.m.fixef[INT] / c.m.bse[INT] ** 2),
            2 * stats.norm.sf(abs(float(c.m.fixef[INT] / c.m.bse[INT] ** 2)))), "variance"),
        ("z and p swapped", lambda c: tuple(reversed(_wald(c.m, INT))), "swapped"),
        ("wrong term", lambda c: _wald(c.m, "promptposter"), "test of 'promptposter'"),
        ("density instead of tail", lambda c: (_wald(c.m, INT)[0],
                                               stats.norm.pdf(_wald(c.m, INT)[0])), "density"),
        ("wrong shape: three numbers", lambda c: (1.0, 2.0, 3.0), "2 numbers"),
    ],
    "03.4 SE ratio": [
        ("upside down", lambda c: float(c.m.bse["promptposter"]) / _glm_se(c, "promptposter"),
         "upside down"),
        ("ratio of variances", lambda c: (_glm_se(c, "promptposter")
                                          / float(c.m.bse["promptposter"])) ** 2, "variances"),
        ("wrong term", lambda c: _glm_se(c, INT) / float(c.m.bse[INT]), f"ratio for '{INT}'"),
        ("percent", lambda c: 100 * _glm_se(c, "promptposter") / float(c.m.bse["promptposter"]),
         "percentage"),
        ("wrong type: a Series", lambda c: c.m.bse, "single number"),
    ],
    "04.1 conditional probabilities": [
        ("log-odds", lambda c: c.cells(c.eta), "log-odds"),
        ("interaction forgotten", lambda c: c.cells(simulate.inv_logit(
            c.eta - np.array([0, 0, 0, float(c.m.fixef[INT])]))), "left out the interaction"),
        ("marginal instead of conditional", lambda c: c.cells(c.marginal(c.sd_hat)),
         "population-averaged"),
        ("odds", lambda c: c.cells(np.exp(c.eta)), "odds"),
        ("wrong shape: 2-D table", lambda c: c.cells(simulate.inv_logit(c.eta)).unstack(),
         "DataFrame"),
    ],
    "04.2 combined odds ratio": [
        ("log scale", lambda c: _combined(c, scale="log"), "log-odds scale"),
        ("covariance ignored", lambda c: _combined(c, cov=False), "covariance"),
        ("reference level only (interaction forgotten)",
         lambda c: _combined(c, terms=["promptposter"]), "reference level"),
        ("interval on the OR scale", lambda c: _or_scale_interval(c), "log scale"),
        ("wrong shape: estimate only", lambda c: _combined(c)[0], "3 numbers"),
    ],
    "04.3 marginal probabilities": [
        ("conditional instead of marginal", lambda c: c.cells(simulate.inv_logit(c.eta)),
         "conditional"),
        ("variance as SD", lambda c: c.cells(c.marginal(c.sd_hat**2)), "variance"),
        ("sqrt of SD", lambda c: c.cells(c.marginal(math.sqrt(c.sd_hat))), "square root"),
        ("observed proportions", lambda c: c.stairs.groupby(F2, observed=True)["y"].mean(),
         "observed proportions"),
        ("one SD above average", lambda c: c.cells(simulate.inv_logit(c.eta + c.sd_hat)),
         "one SD above"),
        ("percent", lambda c: c.cells(100 * c.marginal(c.sd_hat)), "percentages"),
    ],
    "04.4 odds ratio vs risk": [
        ("relative risk", lambda c: {"odds_ratio": 2.5, "risk_difference": 0.03},
         "relative risk"),
        ("upside down", lambda c: {"odds_ratio": (0.02 / 0.98) / (0.05 / 0.95),
                                   "risk_difference": 0.03}, "upside down"),
        ("percentage points", lambda c: {"odds_ratio": (0.05 / 0.95) / (0.02 / 0.98),
                                         "risk_difference": 3.0}, "percentage points"),
        ("sign", lambda c: {"odds_ratio": (0.05 / 0.95) / (0.02 / 0.98),
                            "risk_difference": -0.03}, "wrong sign"),
        ("log odds ratio", lambda c: {"odds_ratio": math.log((0.05 / 0.95) / (0.02 / 0.98)),
                                      "risk_difference": 0.03}, "log odds ratio"),
        ("a key missing", lambda c: {"odds_ratio": 2.58}, "'risk_difference' is missing"),
    ],
    "04.5 profile interval": [
        ("Wald instead of profile", lambda c: _profile(c, "promptposter", method="wald"),
         "Wald interval"),
        ("log scale", lambda c: tuple(np.log(_profile(c, "promptposter"))), "log-odds scale"),
        ("wrong term", lambda c: _profile(c, INT), f"interval of '{INT}'"),
        ("90% level", lambda c: _profile(c, "promptposter", level=0.90), "90% interval"),
        ("Wald on the log scale", lambda c: tuple(np.log(_profile(c, "promptposter",
                                                                  method="wald"))),
         "Wald interval on the log-odds scale"),
        ("wrong shape: with the estimate", lambda c: (2.6, 3.8, 5.6), "2 numbers"),
    ],
    "05.1 LRT": [
        ("halved p", lambda c: dict(zip(["chisq", "df", "p"],
                                        [*_lrt(c)[:2], _lrt(c)[2] / 2], strict=True)),
         "halved"),
        ("factor 2 forgotten", lambda c: {"chisq": _lrt(c)[0] / 2, "df": 1,
                                          "p": stats.chi2.sf(_lrt(c)[0] / 2, 1)}, "factor 2"),
        ("df of the larger model", lambda c: {"chisq": _lrt(c)[0], "df": c.m.n_params,
                                              "p": stats.chi2.sf(_lrt(c)[0], c.m.n_params)},
         "difference"),
        ("lower tail", lambda c: {"chisq": _lrt(c)[0], "df": 1, "p": 1 - _lrt(c)[2]},
         "lower tail"),
        ("negative statistic", lambda c: {"chisq": -_lrt(c)[0], "df": 1, "p": 1.0},
         "negative"),
        ("p as a percentage", lambda c: {"chisq": _lrt(c)[0], "df": 1, "p": 100 * _lrt(c)[2]},
         "percentage"),
        ("a key missing", lambda c: {"chisq": _lrt(c)[0], "p": _lrt(c)[2]}, "'df' is missing"),
    ],
    "05.2 cell proportions": [
        ("counts of 1s", lambda c: c.stairs.groupby(F2, observed=True)["y"].sum(), "counts"),
        ("percent", lambda c: 100 * c.stairs.groupby(F2, observed=True)["y"].mean(),
         "percentages"),
        ("planned probabilities", lambda c: PROBS, "planned probabilities"),
        ("log-odds", lambda c: simulate.logit(c.stairs.groupby(F2, observed=True)["y"].mean()),
         "log-odds"),
        ("per subject", lambda c: c.stairs.groupby("id")["y"].mean(), "each of the 4 cells"),
    ],
    "05.3 flagged cells": [
        ("every cell", lambda c: list(KEYS), "every cell"),
        ("the well-fitting cells", lambda c: [(r.prompt, r.age) for r in _pcheck(c.m_add)
                                              .itertuples() if r.p_value >= 0.05],
         "reproduces well"),
        ("the other model's cells", lambda c: [(r.prompt, r.age) for r in _pcheck(c.m)
                                               .itertuples() if r.p_value < 0.05],
         "other model"),
        ("a cell that does not exist", lambda c: [("poster", "old")], "not a cell"),
        ("wrong type: a number", lambda c: 2, "as a list"),
    ],
    "05.4 residual group test": [
        ("swapped", lambda c: {"interaction": _group_p(c.m_add), "additive": _group_p(c.m)},
         "swapped"),
        ("per observation", lambda c: {"interaction": _group_p(c.m, group=None),
                                       "additive": _group_p(c.m_add, group=None)},
         "per observation"),
        ("pooled KS test", lambda c: {"interaction": _group_p(c.m, test="ks"),
                                      "additive": _group_p(c.m_add, test="ks")},
         "Kolmogorov-Smirnov"),
        ("a key missing", lambda c: {"interaction": 0.5}, "'additive' is missing"),
        ("wrong seed", lambda c: {"interaction": _group_p(c.m, seed=7),
                                  "additive": _group_p(c.m_add, seed=7)}, "seed=6"),
    ],
    "06.1 power estimate": [
        ("variance", lambda c: (0.76, 0.76 * 0.24 / 250), "variance"),
        ("half-width", lambda c: (0.76, 1.96 * math.sqrt(0.76 * 0.24 / 250)), "half-width"),
        ("percent", lambda c: (76.0, 100 * math.sqrt(0.76 * 0.24 / 250)), "percentages"),
        ("no n", lambda c: (0.76, math.sqrt(0.76 * 0.24)), "number of simulated studies"),
        ("non-rejections", lambda c: (0.24, math.sqrt(0.76 * 0.24 / 250)), "not* reject"),
        ("worst-case SE", lambda c: (0.76, math.sqrt(0.25 / 250)), "p = 0.5"),
    ],
    "06.2 nsim needed": [
        ("not squared", lambda c: math.sqrt(0.16) / 0.01, "square"),
        ("SE not squared", lambda c: 0.16 / 0.01, "*square* of the target SE"),
        ("half-width", lambda c: 1.96**2 * 0.16 / 0.01**2, "half-width"),
        ("wrong type: text", lambda c: "1600", "text"),
    ],
    "06.3 power curve": [
        ("article's SD (sd= forgotten)", lambda c: c.power(sd=0.03), "sd=0.03"),
        ("wrong term", lambda c: c.power(term="promptposter"), "term='promptposter'"),
        ("wrong n_days (default)", lambda c: c.power(n_days=14), "n_days=14"),
        ("wrong sizes", lambda c: c.power(sizes=(40, 60)), "n_subjects"),
        ("wrong nsim", lambda c: c.power(nsim=10), "nsim=10"),
        ("wrong type: the summary table", lambda c: c.power().summary(), "power_curve"),
    ],
    "06.4 type-I error": [
        ("true interaction kept", lambda c: c.power([24]), "set it to 0"),
        ("wrong size", lambda c: c.power([40], coefs=c.null_coefs), "n_subjects"),
        ("article's SD", lambda c: c.power([24], coefs=c.null_coefs, sd=0.03), "sd=0.03"),
        ("wrong term nulled", lambda c: c.power(
            [24], coefs=COEFS.where(COEFS.index != "promptposter", 0.0)),
         "you set 'promptposter' to 0"),
        ("wrong type: a number", lambda c: 0.05, "power_curve"),
    ],
    "06.5 slope correlation": [
        ("covariance", lambda c: float(c.m_slopes.varcorr["vcov"].iloc[2]), "covariance"),
        ("slope SD", lambda c: float(c.m_slopes.varcorr["sdcor"].iloc[1]), "SD of the slopes"),
        ("intercept SD", lambda c: float(c.m_slopes.varcorr["sdcor"].iloc[0]),
         "SD of the intercepts"),
        ("sign flipped", lambda c: -float(c.m_slopes.varcorr["sdcor"].iloc[2]), "sign"),
        ("centred days", lambda c: float(glmer(
            "y ~ prompt + day0 + (1 + day0 | id)",
            c.habits.assign(day0=c.habits["day0"] - 4.5)).varcorr["sdcor"].iloc[2]), "centred"),
        ("wrong type: text", lambda c: "0.4", "text"),
    ],
    "06.6 singular SD": [
        ("the true SD", lambda c: 0.05, "simulated with"),
        ("the true variance", lambda c: 0.05**2, "simulated variance"),
        ("sqrt of the true SD", lambda c: math.sqrt(0.05), "square root"),
        ("wrong shape: the varcorr frame", lambda c: _fit_quiet(
            "y ~ prompt * age + (1|id)", c.pilot).varcorr, "single number"),
        ("wrong type: a yes/no", lambda c: True, "yes/no"),
    ],
}


def _linear(p):
    return [p[0], p[1] - p[0], p[2] - p[0], p[3] - p[2] - p[1] + p[0]]


def _statsmodels_glm(c):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    return smf.glm("y ~ prompt * age", c.stairs, family=sm.families.Binomial()).fit()


def _or_scale_interval(c):
    b = float(c.m.fixef[["promptposter", INT]].sum())
    V = c.m.vcov.loc[["promptposter", INT], ["promptposter", INT]].to_numpy()
    se = math.sqrt(float(V.sum()))
    return math.exp(b), math.exp(b) - 1.959964 * se, math.exp(b) + 1.959964 * se


CASES = [(task, name, build, fragment) for task, items in MISTAKES.items()
         for name, build, fragment in items]


def test_every_task_has_at_least_four_mistakes():
    assert set(MISTAKES) == set(CHECKS) == set(RIGHT)
    short = {t: len(v) for t, v in MISTAKES.items() if len(v) < 4}
    assert not short, short
    # every checker of exercises 01-06 is covered by the catalogue (exercise 07 has its own)
    import importlib

    source = Path(__file__).read_text()
    names = [n for k in range(1, 7)
             for n in importlib.import_module(f"glmmteach.course.exercises.ex0{k}").__all__]
    missing = [n for n in names if f"ex.{n}(" not in source]
    assert not missing, missing


@pytest.mark.parametrize("task", list(RIGHT))
def test_the_right_answer_is_correct(task):
    fb = CHECKS[task](C, RIGHT[task](C))
    assert fb.passed, fb


@pytest.mark.parametrize("task, name, build, fragment", CASES,
                         ids=[f"{t} | {n}" for t, n, _, _ in CASES])
def test_a_known_mistake_gets_its_own_diagnosis(task, name, build, fragment):
    answer = build(C)
    fb = CHECKS[task](C, answer)
    assert not fb.passed, f"{task} / {name}: marked correct: {fb}"
    assert fb.status in {"incorrect", "invalid"}, fb
    assert fragment in fb.message, f"{task} / {name}: {fb.message!r}"
    assert "is not right" not in fb.message


@pytest.mark.parametrize("task", list(MISTAKES))
def test_the_mistakes_of_a_task_get_different_messages(task):
    messages = {}
    for name, build, _ in MISTAKES[task]:
        messages.setdefault(CHECKS[task](C, build(C)).message, []).append(name)
    shared = [names for names in messages.values() if len(names) > 1]
    # mistakes that change several settings at once may share a message only if it names
    # every wrong setting; here each catalogued mistake must have a message of its own
    assert not shared, shared


# ------------------------------------------------------------------ the simulation checkers
# A correct simulation with any seed must pass (the tests reject at |z| > 4.4, about 1e-5 of
# correct answers); a simulation from the wrong model must fail for most seeds, not only
# for the exercise's own.


@pytest.mark.parametrize("kind", ["naive", "logit"])
def test_correct_simulations_pass_for_every_seed(kind):
    for seed in range(40):
        if kind == "naive":
            design = simulate.make_design(120, 10, FACTORS, seed=seed)
            sim = simulate.simulate_probability_scale(design, PROBS, sd=0.10, factors=FACTORS,
                                                      seed=seed + 1000, on_impossible="missing")
            fb = ex.check_naive_simulation(lambda s=sim: s, cell_probs=PROBS, sd=0.10,
                                           factors=FACTORS)
        else:
            design = simulate.make_design(150, 10, FACTORS, seed=seed)
            sim = simulate.simulate_logit_scale(design, COEFS, sd=1.5, factors=FACTORS,
                                                seed=seed + 1000)
            fb = ex.check_logit_simulation(lambda s=sim: s, coefs=COEFS, sd=1.5,
                                           factors=FACTORS)
        assert fb.passed, (seed, fb)


def test_a_simulation_without_the_interaction_fails_for_every_seed():
    # made with simulate_logit_scale: its column eta shows the left-out coefficient exactly
    no_int = COEFS.where(COEFS.index != INT, 0.0)
    for seed in range(20):
        design = simulate.make_design(150, 10, FACTORS, seed=seed)
        sim = simulate.simulate_logit_scale(design, no_int, sd=1.5, factors=FACTORS,
                                            seed=seed + 1000)
        fb = ex.check_logit_simulation(lambda s=sim: s, coefs=COEFS, sd=1.5, factors=FACTORS)
        assert fb.status == "incorrect" and "leave out the interaction" in fb.message, fb


def test_a_hand_made_simulation_without_the_interaction_fails_for_most_seeds():
    # without an eta column only the data speak: the subjects of the (poster, older) cell are
    # shifted by the interaction, -1.38 on the log-odds scale, about 5.6 standard errors of
    # the mean of 37 subjects' effects with SD 1.5; the test rejects at 4.4 standard errors
    no_int = COEFS.where(COEFS.index != INT, 0.0)
    caught = 0
    for seed in range(30):
        design = simulate.make_design(150, 10, FACTORS, seed=seed)
        sim = simulate.simulate_logit_scale(design, no_int, sd=1.5, factors=FACTORS,
                                            seed=seed + 1000).drop(columns=["eta", "u"])
        fb = ex.check_logit_simulation(lambda s=sim: s, coefs=COEFS, sd=1.5, factors=FACTORS)
        caught += fb.status == "incorrect" and "leave out the interaction" in fb.message
    assert caught >= 24, caught  # expected about 27 of 30
