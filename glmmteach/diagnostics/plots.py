r"""Seaborn figures for lessons 03-05: how the fit works and how to check it.

Every function labels its axes in words, sets a title, and returns the matplotlib
:class:`~matplotlib.axes.Axes` (or, for the faceted predictive check, the
:class:`~matplotlib.figure.Figure`). Functions that draw one panel take ``ax=`` and otherwise
open a new figure, so that Jupyter shows it; the lessons end a plotting line with ``;``.

The numbers behind the figures come from :mod:`glmmteach.checks` (predictive checks, scaled
residuals, binned residuals) and from :func:`laplace_integrand` here.

Imports ``glmmteach.inference``, ``glmmteach.model`` and ``glmmteach._util``; never
``course``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import integrate, special, stats

from glmmteach._util import validate as _validate
from glmmteach.diagnostics import checks
from glmmteach.model.results import GlmerResult

__all__ = [
    "plot_predictive_check",
    "plot_residual_qq",
    "plot_residuals_vs_predicted",
    "plot_residuals_by_group",
    "plot_binned_residuals",
    "laplace_integrand",
    "plot_laplace_integrand",
    "plot_coefficient_comparison",
]

_BLUE = "#1f4e9c"
_RED = "#C44E52"
_GREY = "0.35"


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _short(formula: str) -> str:
    return formula.replace(" ", "")


# --------------------------------------------------------------------------------------------
# predictive check (the article's figures)
# --------------------------------------------------------------------------------------------


def plot_predictive_check(
    check: checks.PredictiveCheck,
    *,
    x: str | None = None,
    col: str | None = None,
    title: str | None = None,
    xlabel: str = "Treatment",
    ylabel: str = "Proportion of days with vegetables",
    seed: int | np.random.Generator = 0,
) -> Figure:
    """The article's figure: observed cell proportions against the model's simulations.

    Parameters
    ----------
    check : PredictiveCheck
        From :func:`glmmteach.checks.predictive_check`.
    x : str, optional
        Column on the horizontal axis; default the first ``by`` column.
    col : str, optional
        Column whose levels become panels; default the second ``by`` column (if any).
    title : str, optional
        Figure title; default names the model.
    xlabel, ylabel : str
        Axis labels.
    seed : int or numpy.random.Generator
        Seed of the horizontal jitter of the simulated points (only the picture depends on it).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per level of ``col``: every simulated proportion as a jittered open circle,
        the observed proportion as a large blue point.
    """
    if not isinstance(check, checks.PredictiveCheck):
        raise TypeError("check must come from glmmteach.checks.predictive_check()")
    by = list(check.by)
    x = by[0] if x is None else x
    if col is None:
        col = by[1] if len(by) > 1 else None
    for argument, name in (("x", x), ("col", col)):
        if name is not None and name not in by:
            raise ValueError(f"{argument}={name!r} is not one of the check's columns {by}")
    if col is not None and len(by) > 2:
        raise ValueError("with more than two `by` columns, aggregate fewer columns first")
    obs, sim = check.observed, check.simulated
    panels = list(pd.unique(obs[col])) if col is not None else [None]
    if col is not None and isinstance(obs[col].dtype, pd.CategoricalDtype):
        panels = [c for c in obs[col].cat.categories if c in set(obs[col])]
    xs = obs[x].cat.categories if isinstance(obs[x].dtype, pd.CategoricalDtype) else None
    xlevels = [v for v in (xs if xs is not None else sorted(pd.unique(obs[x])))
               if v in set(obs[x])]
    pos = {v: i for i, v in enumerate(xlevels)}
    rng = np.random.default_rng(_validate.check_seed(seed))

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 0.6, 4.2),
                             sharey=True, layout="constrained", squeeze=False)
    lo = min(obs["proportion"].min(), sim["proportion"].min())
    hi = max(obs["proportion"].max(), sim["proportion"].max())
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    for ax, panel in zip(axes[0], panels):
        s = sim if panel is None else sim[sim[col] == panel]
        o = obs if panel is None else obs[obs[col] == panel]
        sx = s[x].map(pos).to_numpy(dtype=float) + rng.uniform(-0.2, 0.2, len(s))
        ax.scatter(sx, s["proportion"], facecolors="none", edgecolors="0.25", alpha=0.5,
                   s=18, linewidths=0.8, label=f"simulated ({check.nsim} data sets)")
        ox = o[x].map(pos).to_numpy(dtype=float)
        sns.scatterplot(x=ox, y=o["proportion"].to_numpy(), ax=ax, s=140, color=_BLUE,
                        zorder=3, label="observed", edgecolor="white")
        ax.set_xticks(range(len(xlevels)), [str(v) for v in xlevels])
        ax.set_xlim(-0.6, len(xlevels) - 0.4)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{col}: {panel}" if panel is not None else "all data")
        ax.legend().remove()
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, loc="lower right", frameon=True, fontsize=8)
    if title is None:
        title = f"Observed vs simulated: {_short(check.model_formula)}"
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------
# scaled residuals
# --------------------------------------------------------------------------------------------


def _unit_word(res: checks.ScaledResiduals) -> str:
    return "observation" if res.level == "observation" else f"{res.level} total"


def plot_residual_qq(
    res: checks.ScaledResiduals,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    r"""Uniform QQ plot of scaled residuals, with the 95% Kolmogorov-Smirnov band.

    Parameters
    ----------
    res : ScaledResiduals
        From :func:`glmmteach.checks.scaled_residuals`.
    ax : matplotlib Axes, optional
    title : str, optional
        Default reports the KS test's p-value.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The sorted residuals :math:`r_{(i)}` are drawn against the uniform quantiles
    :math:`(i - 1/2)/n`. Under the model they lie near the diagonal; the dashed lines are
    the diagonal :math:`\pm D_{0.95}`, where :math:`D_{0.95}` is the 95% point of the KS
    statistic for :math:`n` values, so the whole curve stays inside them with 95%
    probability.
    """
    if not isinstance(res, checks.ScaledResiduals):
        raise TypeError("res must come from glmmteach.checks.scaled_residuals()")
    r = np.sort(res.residuals.to_numpy())
    n = len(r)
    q = (np.arange(1, n + 1) - 0.5) / n
    d95 = float(stats.kstwo.ppf(0.95, n))
    ax = _new_axes(ax, (4.6, 4.4))
    grid = np.array([0.0, 1.0])
    ax.plot(grid, grid, color=_RED, linewidth=1.2)
    ax.plot(grid, grid + d95, color=_RED, linestyle="--", linewidth=0.9)
    ax.plot(grid, grid - d95, color=_RED, linestyle="--", linewidth=0.9)
    sns.scatterplot(x=q, y=r, ax=ax, s=8 if n > 500 else 16, color=_BLUE, linewidth=0,
                    alpha=0.7)
    ax.set_xlim(-0.02, 1.02)  # room for points at 0 and 1
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("Expected (uniform quantile)")
    ax.set_ylabel("Observed scaled residual")
    if title is None:
        p = checks.uniformity_test(res).p_value
        title = f"QQ plot, per {_unit_word(res)}: KS p = {p:.2g}"
    ax.set_title(title)
    return ax


def plot_residuals_vs_predicted(
    res: checks.ScaledResiduals,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    n_bins: int = 10,
) -> Axes:
    """Scaled residuals against rank-transformed predictions, with quantile lines.

    Parameters
    ----------
    res : ScaledResiduals
        From :func:`glmmteach.checks.scaled_residuals`.
    ax : matplotlib Axes, optional
    title : str, optional
    n_bins : int
        Number of bins along the horizontal axis in which the 25%, 50% and 75% quantiles of
        the residuals are computed.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The horizontal axis is the rank of each unit's population-level prediction scaled to
    [0, 1] (ties in data order), which spreads the units evenly whatever the predictions'
    distribution. Under the model the residuals are uniform at every prediction, so the
    binned quantiles (solid) should follow the horizontal lines at 0.25, 0.5 and 0.75
    (dashed).
    """
    if not isinstance(res, checks.ScaledResiduals):
        raise TypeError("res must come from glmmteach.checks.scaled_residuals()")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a whole number >= 1, not {n_bins!r}")
    r = res.residuals.to_numpy()
    n = len(r)
    order = np.argsort(res.predicted, kind="stable")
    rank = np.empty(n)
    rank[order] = np.arange(n)
    x = rank / max(n - 1, 1)
    ax = _new_axes(ax, (6.2, 4.2))
    sns.scatterplot(x=x, y=r, ax=ax, s=6 if n > 500 else 14, color="0.45", linewidth=0,
                    alpha=0.5)
    rows = []
    for idx in np.array_split(order, min(n_bins, n)):
        for q in (0.25, 0.5, 0.75):
            rows.append({"x": float(np.mean(x[idx])), "quantile": f"{q:.2f}",
                         "value": float(np.quantile(r[idx], q))})
    lines = pd.DataFrame(rows)
    for q in (0.25, 0.5, 0.75):
        ax.axhline(q, color=_GREY, linestyle="--", linewidth=0.9)
    sns.lineplot(data=lines, x="x", y="value", hue="quantile", ax=ax, marker="o",
                 palette=[_RED, _BLUE, _RED], linewidth=1.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)  # residuals near 0 and 1 stay whole
    ax.set_xlabel("Model prediction (rank, scaled to 0-1)")
    ax.set_ylabel("Scaled residual")
    ax.legend(title="residual quantile", loc="center left", bbox_to_anchor=(1.0, 0.5),
              frameon=False)
    if title is None:
        title = f"Residuals vs predictions, per {_unit_word(res)}"
    ax.set_title(title)
    return ax


def plot_residuals_by_group(
    res: checks.ScaledResiduals,
    by: str | Sequence[str],
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Scaled residuals within the levels of a predictor or a grouping (box plots and points).

    Parameters
    ----------
    res : ScaledResiduals
        From :func:`glmmteach.checks.scaled_residuals`.
    by : str or sequence of str
        Column(s) of ``res.units`` defining the groups, e.g. ``["trt", "sex"]``.
    ax : matplotlib Axes, optional
    title : str, optional
        Default reports the Kruskal-Wallis p-value of :func:`glmmteach.checks.group_test`.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Under the model every box should span roughly 0.25 to 0.75 with its median near 0.5
    (dashed lines). A model that misses an effect of ``by`` shifts whole boxes up or down.
    """
    test = checks.group_test(res, by)
    cols = [by] if isinstance(by, str) else list(by)
    codes, _, labels = checks.group_codes(res.units, cols)
    frame = pd.DataFrame({"group": pd.Categorical.from_codes(codes, labels),
                          "residual": res.residuals.to_numpy()})
    ax = _new_axes(ax, (6.4, 4.2))
    for q in (0.25, 0.5, 0.75):
        ax.axhline(q, color=_GREY, linestyle="--", linewidth=0.9, zorder=0)
    # matplotlib's own boxplot: seaborn's passes an argument newer matplotlib deprecates
    groups = [frame["residual"][codes == j].to_numpy() for j in range(len(labels))]
    ax.boxplot(groups, positions=range(len(labels)), widths=0.55, patch_artist=True,
               showfliers=False, boxprops={"facecolor": "#a6bddb", "edgecolor": "0.2"},
               medianprops={"color": _RED, "linewidth": 2})
    if len(frame) <= 1000:
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(frame))
        sns.scatterplot(x=codes + jitter, y=frame["residual"].to_numpy(), ax=ax, color="0.25",
                        s=10, alpha=0.6, linewidth=0, zorder=3)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(-0.02, 1.02)  # residuals near 0 and 1 stay whole
    ax.set_xlabel(" x ".join(cols).replace("trt", "treatment") + " (cell)")
    ax.set_ylabel("Scaled residual")
    if title is None:
        title = (f"Residuals per {_unit_word(res)} by {' x '.join(cols)}: "
                 f"Kruskal-Wallis p = {test.p_value:.2g}")
    ax.set_title(title)
    return ax


def plot_binned_residuals(
    binned: pd.DataFrame | GlmerResult,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Gelman and Hill's binned residual plot.

    Parameters
    ----------
    binned : DataFrame or GlmerResult
        The output of :func:`glmmteach.checks.binned_residuals`, or a fitted model (then
        binned with the defaults).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        Average residual per bin against average fitted probability (marginal or
        conditional, as ``binned.attrs["fitted"]`` says); the grey lines are
        :math:`\\pm 2` standard errors, and bins outside them are red.
    """
    if isinstance(binned, GlmerResult):
        binned = checks.binned_residuals(binned)
    need = {"fitted", "residual", "lower", "upper", "outside"}
    if not isinstance(binned, pd.DataFrame) or not need <= set(binned.columns):
        raise TypeError("binned must be a fitted model or the output of "
                        "glmmteach.checks.binned_residuals()")
    which = binned.attrs.get("fitted")
    ax = _new_axes(ax, (6.2, 4.2))
    b = binned.sort_values("fitted")
    ax.axhline(0.0, color=_GREY, linewidth=0.9)
    ax.plot(b["fitted"], b["upper"], color="0.55", linewidth=1.0, linestyle="--")
    ax.plot(b["fitted"], b["lower"], color="0.55", linewidth=1.0, linestyle="--")
    where = np.where(b["outside"], "outside the band", "inside the band")
    sns.scatterplot(x=b["fitted"].to_numpy(), y=b["residual"].to_numpy(), hue=where,
                    hue_order=["inside the band", "outside the band"],
                    palette=[_BLUE, _RED], ax=ax, s=30)
    ax.set_xlabel({"marginal": "Average marginal (population-averaged) probability in the bin",
                   "conditional": "Average conditional fitted probability in the bin"}
                  .get(which, "Average fitted probability in the bin"))
    ax.set_ylabel("Average residual (observed - fitted)")
    ax.legend(frameon=False, fontsize=8)
    if title is None:
        k = int(b["outside"].sum())
        title = f"Binned residuals: {k} of {len(b)} bins outside +/-2 SE"
    ax.set_title(title)
    return ax


# --------------------------------------------------------------------------------------------
# the Laplace approximation, for one subject
# --------------------------------------------------------------------------------------------


def _scalar_intercept_parts(model: GlmerResult):
    if not isinstance(model, GlmerResult):
        raise TypeError("model must be a fitted model from glmmteach.glmer()")
    terms = model.design.terms
    if len(terms) != 1 or np.asarray(terms[0].X).shape[1] != 1:
        raise ValueError("laplace_integrand needs a model with a single random intercept, "
                         "such as y ~ ... + (1|id)")
    if model.family.link != "logit":
        raise ValueError("laplace_integrand draws the logit link only")
    return terms[0]


def laplace_integrand(model: GlmerResult, subject: object, grid: np.ndarray | None = None,
                      sigma: float | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    r"""One subject's likelihood integrand, its Gaussian (Laplace) approximation and both areas.

    Parameters
    ----------
    model : GlmerResult
        A fitted model with a single random intercept (logit link).
    subject : level of the grouping factor
        Which subject (e.g. ``5`` for ``id == 5``).
    grid : ndarray, optional
        Values of the standardized random effect :math:`u` at which to evaluate; default
        401 points over :math:`\hat u \pm 4.5/\sqrt{h}`.
    sigma : float, optional
        Use this random-effect SD instead of the fitted one ("what if the subjects varied
        more?"); the fixed effects stay at their estimates.

    Returns
    -------
    curve : pandas.DataFrame
        Columns ``u``, ``b`` (:math:`\sigma u`, the log-odds shift), ``integrand`` and
        ``laplace`` (the Gaussian approximation), both divided by the integrand's maximum.
    numbers : dict
        ``mode`` (:math:`\hat u`), ``curvature`` (:math:`h`), ``log_exact`` (log of the
        integral by adaptive quadrature), ``log_laplace`` (its Laplace approximation),
        ``successes``, ``trials``.

    Notes
    -----
    With :math:`b_j = \sigma u_j`, subject :math:`j`'s contribution to the likelihood is

    .. math::
        L_j = \int f_j(u)\,du, \qquad
        f_j(u) = \prod_t \binom{n_t}{y_t} \mu_t^{y_t} (1 - \mu_t)^{n_t - y_t}\,\phi(u),
        \qquad \mu_t = \mathrm{logit}^{-1}(x_t^\top\beta + \sigma u).

    The Laplace approximation expands :math:`\log f_j` to second order around its mode
    :math:`\hat u`: with :math:`h = -(\log f_j)''(\hat u) = 1 + \sigma^2 \sum_t n_t
    \mu_t(1 - \mu_t)`, :math:`f_j(u) \approx f_j(\hat u) e^{-h (u - \hat u)^2/2}` and
    :math:`L_j \approx f_j(\hat u)\sqrt{2\pi/h}`. It is exact when :math:`f_j` is Gaussian;
    adaptive Gauss-Hermite quadrature (``nAGQ > 1``) evaluates :math:`f_j` at more points
    placed around :math:`\hat u` with the same scale :math:`1/\sqrt{h}`.
    """
    term = _scalar_intercept_parts(model)
    levels = list(term.levels)
    matches = [k for k, lev in enumerate(levels) if lev == subject or str(lev) == str(subject)]
    if not matches:
        raise ValueError(f"subject {subject!r} is not a level of {term.group!r}")
    rows = np.flatnonzero(np.asarray(term.codes) == matches[0])
    X = np.asarray(model.design.X)[rows]
    off = np.asarray(model.design.offset)[rows]
    n = np.asarray(model.design.trials)[rows]
    y = np.round(np.asarray(model.design.y)[rows] * n)
    eta0 = X @ np.asarray(model.beta) + off
    if sigma is None:
        sigma = float(np.asarray(model.theta)[0])
    elif isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
        raise ValueError(f"sigma must be a number >= 0, not {sigma!r}")
    sigma = float(sigma)
    logc = float(np.sum(special.gammaln(n + 1) - special.gammaln(y + 1)
                        - special.gammaln(n - y + 1)))

    def logf(u):
        u = np.atleast_1d(np.asarray(u, dtype=float))
        eta = eta0[None, :] + sigma * u[:, None]
        ll = y * eta - n * np.logaddexp(0.0, eta)
        return ll.sum(axis=1) + logc - 0.5 * u**2 - 0.5 * math.log(2 * math.pi)

    # Newton's method on the (concave) log integrand, with step halving: a full Newton step
    # overshoots far into the flat tail when sigma is large (a subject with few successes)
    u = 0.0
    f_u = float(logf(u)[0])
    for _ in range(200):
        mu = special.expit(eta0 + sigma * u)
        grad = sigma * np.sum(y - n * mu) - u
        hess = 1.0 + sigma**2 * np.sum(n * mu * (1 - mu))
        step = grad / hess
        for _ in range(60):
            f_new = float(logf(u + step)[0])
            if f_new >= f_u - 1e-12 * abs(f_u):
                break
            step /= 2.0
        u += step
        f_u = f_new
        if abs(step) < 1e-12:
            break
    mu = special.expit(eta0 + sigma * u)
    h = 1.0 + sigma**2 * float(np.sum(n * mu * (1 - mu)))
    top = float(logf(u)[0])
    half = 4.5 / math.sqrt(h)
    if grid is None:
        grid = np.linspace(u - half, u + half, 401)
    grid = np.asarray(grid, dtype=float)
    exact, _ = integrate.quad(lambda v: math.exp(float(logf(v)[0]) - top), u - 12 / math.sqrt(h),
                              u + 12 / math.sqrt(h), epsabs=0, epsrel=1e-11, limit=200)
    curve = pd.DataFrame({
        "u": grid,
        "b": sigma * grid,
        "integrand": np.exp(logf(grid) - top),
        "laplace": np.exp(-0.5 * h * (grid - u) ** 2),
    })
    numbers = {"mode": float(u), "curvature": h, "log_exact": top + math.log(exact),
               "log_laplace": top + 0.5 * math.log(2 * math.pi / h),
               "successes": float(y.sum()), "trials": float(n.sum()), "sigma": sigma}
    return curve, numbers


def plot_laplace_integrand(
    model: GlmerResult,
    subject: object,
    *,
    nAGQ: int = 0,
    sigma: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw one subject's integrand and its Laplace (Gaussian) approximation.

    Parameters
    ----------
    model : GlmerResult
        A fitted model with a single random intercept.
    subject : level of the grouping factor
        Which subject.
    nAGQ : int
        If > 1, also mark the adaptive Gauss-Hermite nodes that ``nAGQ`` points would use.
    sigma : float, optional
        Random-effect SD to use instead of the fitted one (see :func:`laplace_integrand`).
    ax : matplotlib Axes, optional
    title : str, optional
        Default names the subject and its number of successes.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    See :func:`laplace_integrand`. The adaptive Gauss-Hermite nodes are
    :math:`\\hat u + \\sqrt{2/h}\\, x_k` for the Gauss-Hermite points :math:`x_k`.
    """
    curve, num = laplace_integrand(model, subject, sigma=sigma)
    ax = _new_axes(ax, (6.0, 4.0))
    long = curve.melt(id_vars=["u"], value_vars=["integrand", "laplace"], var_name="curve",
                      value_name="value")
    # the lessons write the standardized effect as z (u_j = sigma * z); the table keeps u
    long["curve"] = long["curve"].map({"integrand": "integrand f(z)",
                                       "laplace": "Gaussian (Laplace) approximation"})
    sns.lineplot(data=long, x="u", y="value", hue="curve", style="curve", ax=ax,
                 palette=[_BLUE, _RED], linewidth=1.8)
    ax.axvline(num["mode"], color=_GREY, linewidth=0.8, linestyle=":")
    if nAGQ > 1:
        x, _ = np.polynomial.hermite.hermgauss(int(nAGQ))
        nodes = num["mode"] + math.sqrt(2.0 / num["curvature"]) * x
        at_nodes, _ = laplace_integrand(model, subject, grid=nodes, sigma=sigma)
        ax.scatter(nodes, at_nodes["integrand"], marker="o", s=36, color="0.15", zorder=3,
                   label=f"{nAGQ} adaptive quadrature nodes")
    ax.legend(frameon=False, fontsize=8)
    ax.set_xlabel("Standardized random effect z (log-odds shift u = sigma * z)")
    ax.set_ylabel("Integrand, relative to its peak")
    if title is None:
        title = (f"Subject {subject} ({num['successes']:.0f} of {num['trials']:.0f}), "
                 f"SD {num['sigma']:.2f}: log L exact {num['log_exact']:.4f}, "
                 f"Laplace {num['log_laplace']:.4f}")
    ax.set_title(title, fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------
# comparing estimates across methods
# --------------------------------------------------------------------------------------------


def plot_coefficient_comparison(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str = "Estimates with 95% intervals (estimate +/- 1.96 SE)",
    truth: pd.Series | dict | None = None,
) -> Axes:
    """Point estimates with +/- 1.96 SE bars, one colour per method.

    Parameters
    ----------
    table : DataFrame
        Long format with columns ``term``, ``method``, ``estimate``, ``se``.
    ax : matplotlib Axes, optional
    title : str
    truth : Series or dict, optional
        True values by term, drawn as black crosses.

    Returns
    -------
    matplotlib.axes.Axes
    """
    need = {"term", "method", "estimate", "se"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise ValueError(f"table must be a DataFrame with columns {sorted(need)}")
    terms = list(pd.unique(table["term"]))
    methods = list(pd.unique(table["method"]))
    ax = _new_axes(ax, (7.5, min(5.0, 1.6 + 0.25 * len(terms) * max(1, len(methods)))))
    palette = sns.color_palette("deep", len(methods))
    width = 0.7 / max(len(methods), 1)
    for k, m in enumerate(methods):
        sub = table[table["method"] == m].set_index("term").reindex(terms)
        ypos = np.arange(len(terms)) + (k - (len(methods) - 1) / 2) * width
        ax.errorbar(sub["estimate"], ypos, xerr=1.96 * sub["se"], fmt="o", color=palette[k],
                    capsize=3, label=m, markersize=5)
    if truth is not None:
        tv = pd.Series(truth).reindex(terms)
        ax.scatter(tv.to_numpy(dtype=float), np.arange(len(terms)), marker="x", color="black",
                   s=60, zorder=4, label="true value")
    ax.axvline(0.0, color=_GREY, linewidth=0.8)
    ax.set_yticks(range(len(terms)), terms)
    ax.invert_yaxis()
    ax.set_xlabel("Coefficient (log-odds scale)")
    ax.set_ylabel("Coefficient")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title)
    return ax
