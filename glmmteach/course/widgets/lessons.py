"""ipywidgets explorers for lessons 03-05 (fitting, interpreting, checking).

As in :mod:`glmmteach.widgets`, each explorer returns an :class:`ipywidgets.VBox`: controls
first, then an :class:`~ipywidgets.HTML` summary, then an :class:`~ipywidgets.Output` holding
a figure. The numbers an explorer shows come from a plain function that the lessons also call
in a static fallback cell (:func:`refit_table`, :func:`laplace_table`,
:func:`effect_size_table`, :func:`residual_check_table`), so the lessons read fine on paper
and nbval can check them.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Mapping, Sequence

import ipywidgets as w
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from glmmteach import simulate
from glmmteach._util import validate as _validate
from glmmteach._util.validate import check_open_unit
from glmmteach.course.widgets import draw_into
from glmmteach.diagnostics import checks
from glmmteach.diagnostics import plots as checkplots
from glmmteach.model.results import GlmerResult

__all__ = [
    "simulate_and_fit",
    "refit_table",
    "refit_explorer",
    "laplace_table",
    "laplace_explorer",
    "effect_sizes",
    "effect_size_table",
    "effect_size_explorer",
    "residual_check_table",
    "residual_explorer",
]

_TERMS = ("(Intercept)", "trttreat", "sexmale", "trttreat:sexmale")


# --------------------------------------------------------------------------------------------
# lesson 03: refit as the random-effect SD or the number of subjects changes
# --------------------------------------------------------------------------------------------


def simulate_and_fit(
    sd: float,
    n_subjects: int = 250,
    n_days: int = 14,
    *,
    coefs: Mapping[str, float] | pd.Series = simulate.ARTICLE_LOGIT_COEFS,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, float]:
    r"""Simulate the article's design on the log-odds scale, fit a GLMM and a plain GLM.

    Parameters
    ----------
    sd : float
        Standard deviation of the subjects' random intercepts (log-odds scale, >= 0).
    n_subjects, n_days : int
        Size of the simulated study.
    coefs : mapping or Series
        True fixed effects (default: the article's).
    seed : int or numpy.random.Generator
        Random source for the design and the simulated data (an int gives the same study on
        every call).

    Returns
    -------
    table : pandas.DataFrame
        Long format, columns ``term``, ``method`` (``"glmer (Laplace)"`` or ``"GLM, ignoring
        subjects"``), ``estimate``, ``se``, ``truth``.
    sd_hat : float
        The GLMM's estimate of ``sd``.

    Notes
    -----
    The data follow :math:`\operatorname{logit} p_j = x_j^\top\beta + u_j`,
    :math:`u_j \sim N(0, \mathrm{sd}^2)`, 0/1 outcomes on ``n_days`` days. The GLM treats the
    :math:`n_{\text{subjects}} \times n_{\text{days}}` outcomes as independent; when subjects
    differ, its standard errors for between-subject effects are too small.
    """
    import statsmodels.api as sm

    from glmmteach.model.fit import glmer

    rng = np.random.default_rng(_validate.check_seed(seed))
    design = simulate.make_design(n_subjects, n_days, seed=rng)
    data = simulate.simulate_logit_scale(design, coefs, sd=sd, seed=rng)
    truth = pd.Series(simulate.coef_vector(coefs, simulate.ARTICLE_FACTORS),
                      index=list(_TERMS))
    with warnings.catch_warnings():
        # a tiny SD can give a boundary (singular) fit: the explorer reports sd_hat = 0
        from glmmteach.warnings import ConvergenceWarning, SingularFitWarning

        warnings.simplefilter("ignore", SingularFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = glmer("y ~ trt * sex + (1|id)", data)
    X = np.asarray(m.design.X)
    glm = sm.GLM(np.asarray(m.design.y), X, family=sm.families.Binomial()).fit()
    rows = []
    for k, term in enumerate(m.fixef.index):
        rows.append({"term": term, "method": "glmer (Laplace)", "estimate": m.fixef[term],
                     "se": m.bse[term], "truth": truth[term]})
        rows.append({"term": term, "method": "GLM, ignoring subjects",
                     "estimate": float(glm.params[k]), "se": float(glm.bse[k]),
                     "truth": truth[term]})
    return pd.DataFrame(rows), float(m.varcorr["sdcor"].iloc[0])


def refit_table(
    sds: Sequence[float],
    n_subjects: int | Sequence[int] = 250,
    n_days: int = 14,
    *,
    term: str = "trttreat",
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """One simulated study per SD (and number of subjects): GLMM against GLM for one term.

    Parameters
    ----------
    sds : sequence of float
        Random-intercept SDs to try (log-odds scale).
    n_subjects : int or sequence of int
        Numbers of subjects to try (every combination with ``sds`` is fitted).
    n_days : int
        Days per subject.
    term : str
        The coefficient to report.
    seed : int or numpy.random.Generator
        Seed passed to :func:`simulate_and_fit`: an int gives every row the same design and
        the same standard normal draws (scaled by the SD); a Generator gives each row fresh
        draws.

    Returns
    -------
    pandas.DataFrame
        Columns ``sd``, ``n_subjects``, ``sd_hat``, ``glmer_est``, ``glmer_se``, ``glm_est``,
        ``glm_se`` and ``se_ratio`` (GLM SE / GLMM SE; below 1 means the GLM is
        overconfident).
    """
    ns = [n_subjects] if isinstance(n_subjects, (int, np.integer)) else list(n_subjects)
    rows = []
    for n in ns:
        for sd in sds:
            table, sd_hat = simulate_and_fit(float(sd), int(n), n_days, seed=seed)
            t = table[table["term"] == term].set_index("method")
            g, l = t.loc["glmer (Laplace)"], t.loc["GLM, ignoring subjects"]
            rows.append({"sd": float(sd), "n_subjects": int(n), "sd_hat": sd_hat,
                         "glmer_est": g["estimate"], "glmer_se": g["se"],
                         "glm_est": l["estimate"], "glm_se": l["se"],
                         "se_ratio": l["se"] / g["se"]})
    return pd.DataFrame(rows)


def refit_explorer(sd: float = 0.5, n_subjects: int = 250, *, n_days: int = 14,
                   seed: int = 0) -> w.VBox:
    """Sliders for the random-effect SD and the number of subjects; refits on every move.

    Parameters
    ----------
    sd : float
        Initial random-intercept SD (log-odds scale).
    n_subjects : int
        Initial number of subjects.
    n_days : int
        Days per subject.
    seed : int
        Seed of the simulated study (the same for every slider position).

    Returns
    -------
    ipywidgets.VBox
        Two sliders, an HTML table (estimates and SEs of the GLMM and of a GLM that ignores
        the subjects) and a figure (:func:`glmmteach.checkplots.plot_coefficient_comparison`).
    """
    sd_slider = w.FloatSlider(value=sd, min=0.0, max=3.0, step=0.1, description="SD",
                              readout_format=".1f", continuous_update=False)
    n_slider = w.IntSlider(value=n_subjects, min=40, max=500, step=10, description="subjects",
                           continuous_update=False)
    summary = w.HTML()
    out = w.Output()

    def update(_change=None) -> None:
        table, sd_hat = simulate_and_fit(sd_slider.value, n_slider.value, n_days, seed=seed)
        wide = table.pivot(index="term", columns="method", values=["estimate", "se"])
        wide = wide.reindex(list(pd.unique(table["term"])))
        rows = "".join(
            f"<tr><td><code>{html.escape(t)}</code></td>"
            f"<td>{table[table.term == t].truth.iloc[0]:.3f}</td>"
            f"<td>{wide.loc[t, ('estimate', 'glmer (Laplace)')]:.3f} "
            f"({wide.loc[t, ('se', 'glmer (Laplace)')]:.3f})</td>"
            f"<td>{wide.loc[t, ('estimate', 'GLM, ignoring subjects')]:.3f} "
            f"({wide.loc[t, ('se', 'GLM, ignoring subjects')]:.3f})</td></tr>"
            for t in wide.index)
        summary.value = (
            f"<b>SD = {sd_slider.value:.1f}, {n_slider.value} subjects</b>: estimated SD "
            f"{sd_hat:.3f}<table><tr><th>term</th><th>truth</th><th>glmer (SE)</th>"
            f"<th>GLM (SE)</th></tr>{rows}</table>")
        truth = table.drop_duplicates("term").set_index("term")["truth"]
        draw_into(out, lambda ax: checkplots.plot_coefficient_comparison(
            table, ax=ax, truth=truth,
            title=f"SD {sd_slider.value:.1f}, {n_slider.value} subjects: estimates +/- 1.96 SE"),
            figsize=(7.5, 3.8))

    sd_slider.observe(update, names="value")
    n_slider.observe(update, names="value")
    update()
    return w.VBox([w.HBox([sd_slider, n_slider]), summary, out])


# --------------------------------------------------------------------------------------------
# lesson 03: the Laplace approximation for one subject
# --------------------------------------------------------------------------------------------


def laplace_table(model: GlmerResult, subjects: Sequence, sigmas: Sequence[float | None]
                  ) -> pd.DataFrame:
    """Exact and Laplace log-likelihood contributions for some subjects and SDs.

    Parameters
    ----------
    model : GlmerResult
        A fitted model with a single random intercept.
    subjects : sequence
        Levels of the grouping factor.
    sigmas : sequence of float or None
        Random-effect SDs (``None``: the fitted one).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``successes``, ``sd``, ``log_exact``, ``log_laplace`` and
        ``error`` (Laplace minus exact), from :func:`glmmteach.checkplots.laplace_integrand`.
    """
    rows = []
    for sigma in sigmas:
        for subject in subjects:
            _, num = checkplots.laplace_integrand(model, subject, sigma=sigma)
            rows.append({"subject": subject, "successes": int(num["successes"]),
                         "sd": num["sigma"], "log_exact": num["log_exact"],
                         "log_laplace": num["log_laplace"],
                         "error": num["log_laplace"] - num["log_exact"]})
    return pd.DataFrame(rows)


def laplace_explorer(model: GlmerResult, subjects: Sequence, *, nAGQ: int = 5) -> w.VBox:
    """A subject menu and an SD slider: the integrand and its Gaussian approximation.

    Parameters
    ----------
    model : GlmerResult
        A fitted model with a single random intercept.
    subjects : sequence
        Subjects offered in the menu (levels of the grouping factor).
    nAGQ : int
        Number of adaptive quadrature nodes to mark.

    Returns
    -------
    ipywidgets.VBox
        A dropdown, a slider (SD, starting at the fitted value), an HTML line with the exact
        and approximate log-likelihood contributions, and the figure
        (:func:`glmmteach.checkplots.plot_laplace_integrand`).
    """
    fitted = float(np.asarray(model.theta)[0])
    menu = w.Dropdown(options=list(subjects), value=list(subjects)[0], description="subject")
    slider = w.FloatSlider(value=round(fitted, 2), min=0.0, max=4.0, step=0.05,
                           description="SD", readout_format=".2f", continuous_update=False)
    summary = w.HTML()
    out = w.Output()
    group = model.design.terms[0].group
    n_obs = model.data.groupby(group, observed=True).size().to_dict()

    def update(_change=None) -> None:
        row = laplace_table(model, [menu.value], [slider.value]).iloc[0]
        summary.value = (
            f"<b>subject {menu.value}</b> ({int(row.successes)} of "
            f"{n_obs.get(menu.value, '?')} days), SD {row.sd:.2f}: "
            f"log-likelihood contribution exact {row.log_exact:.4f}, Laplace "
            f"{row.log_laplace:.4f} (error {row.error:+.4f})")
        draw_into(out, lambda ax: checkplots.plot_laplace_integrand(
            model, menu.value, sigma=slider.value, nAGQ=nAGQ, ax=ax), figsize=(6.5, 4.0))

    menu.observe(update, names="value")
    slider.observe(update, names="value")
    update()
    return w.VBox([w.HBox([menu, slider]), summary, out])


# --------------------------------------------------------------------------------------------
# lesson 04: probabilities against odds ratios
# --------------------------------------------------------------------------------------------




def effect_sizes(p0: float, p1: float) -> pd.Series:
    r"""Four ways to describe a change of probability from ``p0`` to ``p1``.

    Parameters
    ----------
    p0, p1 : float
        Probabilities before and after (e.g. control and treatment), strictly in (0, 1).

    Returns
    -------
    pandas.Series
        ``p0``, ``p1``, ``difference`` (:math:`p_1 - p_0`), ``risk_ratio``
        (:math:`p_1/p_0`), ``odds_ratio`` (:math:`\frac{p_1/(1-p_1)}{p_0/(1-p_0)}`) and
        ``log_odds_ratio``.
    """
    p0 = check_open_unit(p0, "p0", "a probability")
    p1 = check_open_unit(p1, "p1", "a probability")
    odds_ratio = (p1 / (1 - p1)) / (p0 / (1 - p0))
    return pd.Series({"p0": p0, "p1": p1, "difference": p1 - p0, "risk_ratio": p1 / p0,
                      "odds_ratio": odds_ratio, "log_odds_ratio": math.log(odds_ratio)})


def effect_size_table(pairs: Sequence[tuple[float, float]]) -> pd.DataFrame:
    """:func:`effect_sizes` for several (p0, p1) pairs, one row each."""
    return pd.DataFrame([effect_sizes(p0, p1) for p0, p1 in pairs])


def _signed(d: float) -> str:
    """A probability difference with enough digits to show it is not zero."""
    if d == 0:
        return "0"
    digits = max(3, 1 - math.floor(math.log10(abs(d))))
    return f"{d:+.{digits}f}"


def _plot_effect(ax: Axes, row: pd.Series) -> Axes:
    # a log scale keeps both bars visible when the probabilities are tiny (p0 = 0.0001)
    low = min(row.p0, row.p1)
    log = low < 0.02
    left = 10 ** math.floor(math.log10(low) - 0.5) if log else 0.0
    ax.barh([1, 0], [row.p0 - left, row.p1 - left], left=left, color=["#8c8c8c", "#1f4e9c"],
            height=0.55)
    ax.plot([row.p0, row.p1], [1, 0], "o", color="black", markersize=4)
    for y, v in ((1, row.p0), (0, row.p1)):
        ax.annotate(f"{v:.4g}", (v, y), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=9)
    ax.set_yticks([1, 0], ["before (p0)", "after (p1)"])
    if log:
        ax.set_xscale("log")
        ax.set_xlim(left, 3.0)
        ax.set_xlabel("Probability (log scale)")
    else:
        ax.set_xlim(0, 1.12)
        ax.set_xlabel("Probability")
    ax.set_ylabel("Group")
    ax.set_title(f"Odds ratio {row.odds_ratio:.2f}, but the probability moves by "
                 f"{_signed(row.difference)}", fontsize=10)
    return ax


def effect_size_explorer(p0: float = 0.001, odds_ratio: float = 9.0) -> w.VBox:
    r"""Sliders for a baseline probability and an odds ratio: what happens to the probability?

    Parameters
    ----------
    p0 : float
        Initial baseline probability (strictly in (0, 1)).
    odds_ratio : float
        Initial odds ratio (> 0).

    Returns
    -------
    ipywidgets.VBox
        Two sliders (baseline probability on a log scale, odds ratio), an HTML summary with
        the new probability, difference, risk ratio and odds ratio, and a bar figure.

    Notes
    -----
    The new probability is :math:`p_1 = \frac{\mathrm{OR}\,o_0}{1 + \mathrm{OR}\,o_0}` with
    :math:`o_0 = p_0/(1-p_0)`: the same odds ratio is a big change in the middle of the
    probability range and a tiny one near 0 or 1.
    """
    check_open_unit(p0, "p0", "a probability")
    if not odds_ratio > 0:
        raise ValueError(f"odds_ratio must be > 0, not {odds_ratio!r}")
    p_slider = w.FloatLogSlider(value=p0, base=10, min=-4, max=math.log10(0.95), step=0.05,
                                description="p0", readout_format=".4f",
                                continuous_update=False)
    or_slider = w.FloatSlider(value=odds_ratio, min=0.1, max=20.0, step=0.1,
                              description="odds ratio", readout_format=".1f",
                              continuous_update=False, style={"description_width": "initial"})
    summary = w.HTML()
    out = w.Output()

    def update(_change=None) -> None:
        o0 = p_slider.value / (1 - p_slider.value)
        p1 = or_slider.value * o0 / (1 + or_slider.value * o0)
        row = effect_sizes(p_slider.value, min(max(p1, 1e-12), 1 - 1e-12))
        summary.value = (
            f"p0 = {row.p0:.4f} &rarr; p1 = {row.p1:.4f}: difference {row.difference:+.4f}, "
            f"risk ratio {row.risk_ratio:.2f}, odds ratio {row.odds_ratio:.2f}")
        draw_into(out, lambda ax: _plot_effect(ax, row), figsize=(6.5, 2.6))

    p_slider.observe(update, names="value")
    or_slider.observe(update, names="value")
    update()
    return w.VBox([w.HBox([p_slider, or_slider]), summary, out])


# --------------------------------------------------------------------------------------------
# lesson 05: residual checks for several models and levels
# --------------------------------------------------------------------------------------------


def residual_check_table(
    models: Mapping[str, GlmerResult],
    *,
    by: str | Sequence[str] = ("trt", "sex"),
    group: str = "id",
    nsim: int = 250,
    seed: int = 0,
) -> pd.DataFrame:
    """Residual tests for several models, per observation and per group.

    Parameters
    ----------
    models : mapping of str to GlmerResult
        Labelled fitted models.
    by : str or sequence of str
        Columns whose levels the between-level tests compare.
    group : str
        Column to aggregate by for the second level (e.g. ``"id"``).
    nsim : int
        Simulations per model.
    seed : int
        Seed; each model uses the same seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``level``, ``test``, ``statistic``, ``p_value``
        (:func:`glmmteach.checks.residual_tests`).
    """
    frames = []
    for label, model in models.items():
        for grp in (None, group):
            res = checks.scaled_residuals(model, nsim=nsim, seed=seed, group=grp)
            t = checks.residual_tests(res, by=by)
            t.insert(0, "level", "observation" if grp is None else f"per {grp}")
            t.insert(0, "model", label)
            frames.append(t)
    return pd.concat(frames, ignore_index=True)


def residual_explorer(
    models: Mapping[str, GlmerResult],
    *,
    by: str | Sequence[str] = ("trt", "sex"),
    group: str = "id",
    nsim: int = 250,
    seed: int = 0,
) -> w.VBox:
    """Menus for the model, the level (single rows or group totals) and the figure.

    Parameters
    ----------
    models : mapping of str to GlmerResult
        Labelled fitted models (e.g. the correct and the wrong one).
    by : str or sequence of str
        Columns whose levels the between-level test compares.
    group : str
        Column to aggregate by for the "per group" level.
    nsim : int
        Simulations per model.
    seed : int
        Seed (the same for every choice, so the numbers match
        :func:`residual_check_table`).

    Returns
    -------
    ipywidgets.VBox
        Three dropdowns, an HTML table of the tests, and the chosen figure.
    """
    labels = list(models)
    model_menu = w.Dropdown(options=labels, value=labels[0], description="model")
    level_menu = w.Dropdown(options=["observation", f"per {group}"], value=f"per {group}",
                            description="level")
    plots = {
        "QQ plot": lambda res, ax: checkplots.plot_residual_qq(res, ax=ax),
        "vs prediction": lambda res, ax: checkplots.plot_residuals_vs_predicted(res, ax=ax),
        "by cell": lambda res, ax: checkplots.plot_residuals_by_group(res, by, ax=ax),
    }
    plot_menu = w.Dropdown(options=list(plots), value="by cell", description="figure")
    summary = w.HTML()
    out = w.Output()
    cache: dict[tuple[str, str], checks.ScaledResiduals] = {}

    def update(_change=None) -> None:
        key = (model_menu.value, level_menu.value)
        if key not in cache:
            grp = None if level_menu.value == "observation" else group
            cache[key] = checks.scaled_residuals(models[key[0]], nsim=nsim, seed=seed,
                                                 group=grp)
        res = cache[key]
        t = checks.residual_tests(res, by=by)
        rows = "".join(f"<tr><td>{html.escape(r.test)}</td><td>{r.statistic:.3g}</td>"
                       f"<td>{r.p_value:.2g}</td></tr>" for r in t.itertuples())
        summary.value = ("<table><tr><th>test</th><th>statistic</th><th>p-value</th></tr>"
                         f"{rows}</table>")
        draw = plots[plot_menu.value]
        size = (5.0, 4.6) if plot_menu.value == "QQ plot" else (7.0, 4.2)
        draw_into(out, lambda ax: draw(res, ax), figsize=size)

    for menu in (model_menu, level_menu, plot_menu):
        menu.observe(update, names="value")
    update()
    return w.VBox([w.HBox([model_menu, level_menu, plot_menu]), summary, out])
