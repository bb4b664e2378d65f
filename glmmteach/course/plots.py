"""Seaborn figures used by the lessons.

Every function draws on ``ax`` when given (otherwise on a new figure from
:func:`matplotlib.pyplot.subplots`, so that Jupyter shows it), labels both axes in words, sets
a title, and returns the :class:`~matplotlib.axes.Axes`. The functions are independent of
each other; the lessons end a plotting line with ``;`` to hide the returned object.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from glmmteach import simulate
from glmmteach._util import validate as _validate

__all__ = [
    "plot_subject_probabilities",
    "plot_impossible_share",
    "plot_inverse_logit",
]

_INSIDE = "inside [0, 1]"
_OUTSIDE = "outside [0, 1]"
_PALETTE = {_INSIDE: "#4C72B0", _OUTSIDE: "#C44E52"}


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_subject_probabilities(
    data: pd.DataFrame,
    *,
    factors: Sequence[str] = ("trt", "sex"),
    p: str = "p",
    ax: Axes | None = None,
    title: str | None = None,
    seed: int = 0,
) -> Axes:
    """One dot per subject: its probability of a 1, by cell, against the range [0, 1].

    Parameters
    ----------
    data : DataFrame
        Observations with an ``id`` column, the factor columns and the probability column
        (e.g. the output of :func:`glmmteach.simulate.simulate_probability_scale`). Rows of
        the same subject share one probability; the first row per subject is used.
    factors : sequence of str
        Columns that define the cells on the horizontal axis (joined like R's
        ``interaction()``).
    p : str
        Name of the probability column.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    title : str, optional
        Figure title; by default it reports how many subjects fall outside [0, 1].
    seed : int
        Seed for the horizontal jitter of the dots (only the picture depends on it).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; probabilities outside [0, 1] are drawn in red, the impossible region is
        shaded, and dashed lines mark 0 and 1.
    """
    missing = [c for c in ("id", p, *factors) if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column {missing[0]!r}")
    subjects = data.drop_duplicates("id").copy()
    subjects["cell"] = simulate.interaction(subjects, list(factors))
    prob = subjects[p].to_numpy(dtype=float)
    subjects["where"] = np.where((prob < 0) | (prob > 1), _OUTSIDE, _INSIDE)
    n_out = int((subjects["where"] == _OUTSIDE).sum())
    cells = list(subjects["cell"].cat.categories)
    codes = subjects["cell"].cat.codes.to_numpy()
    rng = np.random.default_rng(_validate.check_seed(seed))
    jitter = rng.uniform(-0.3, 0.3, size=len(subjects))
    subjects["x"] = codes + jitter

    ax = _new_axes(ax, (7.5, 4.2))
    low = min(-0.05, float(np.nanmin(prob)) - 0.05)
    high = max(1.05, float(np.nanmax(prob)) + 0.05)
    ax.axhspan(low, 0.0, color="#C44E52", alpha=0.08, linewidth=0)
    ax.axhspan(1.0, high, color="#C44E52", alpha=0.08, linewidth=0)
    ax.axhline(0.0, color="0.3", linestyle="--", linewidth=1)
    ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
    sns.scatterplot(
        data=subjects, x="x", y=p, hue="where", hue_order=[_INSIDE, _OUTSIDE],
        palette=_PALETTE, s=18, alpha=0.8, linewidth=0, ax=ax,
    )
    ax.set_xticks(range(len(cells)), cells)
    ax.set_xlim(-0.6, len(cells) - 0.4)
    ax.set_ylim(low, high)
    ax.set_xlabel("Cell (treatment group and sex)")
    ax.set_ylabel("Subject's probability of a 1")
    ax.legend(title="Probability", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    if title is None:
        title = f"{n_out} of {len(subjects)} subject probabilities fall outside [0, 1]"
    ax.set_title(title)
    return ax


def plot_impossible_share(
    sds: Sequence[float] | np.ndarray | None = None,
    cell_probs: Mapping | pd.Series | Sequence[float] = simulate.ARTICLE_CELL_PROBS,
    *,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
    simulated: pd.DataFrame | None = None,
    ax: Axes | None = None,
    title: str = "Naive simulation: impossible probabilities grow with the SD",
) -> Axes:
    r"""Expected share of impossible subject probabilities against the random-effect SD.

    Parameters
    ----------
    sds : sequence of float, optional
        SDs at which to draw the curve; default 0 to 0.4 in 81 steps.
    cell_probs : mapping, Series or sequence of float
        Cell probabilities (default: the article's).
    factors : mapping of str to sequence of str
        Factor names and levels of ``cell_probs``.
    simulated : DataFrame, optional
        Simulated shares to overlay as points, with columns ``sd`` and ``share`` (e.g. from
        :func:`glmmteach.widgets.impossible_share_table`).
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The curve is :func:`glmmteach.simulate.expected_impossible_share`, the average over
    equally likely cells of :math:`\Phi(-p_c/\sigma) + \Phi((p_c - 1)/\sigma)`.
    """
    grid = np.linspace(0.0, 0.4, 81) if sds is None else np.asarray(sds, dtype=float)
    share = [simulate.expected_impossible_share(cell_probs, float(s), factors) for s in grid]
    curve = pd.DataFrame({"sd": grid, "share": share})
    ax = _new_axes(ax, (6.5, 4.0))
    sns.lineplot(data=curve, x="sd", y="share", ax=ax, color="#4C72B0", label="expected")
    if simulated is not None:
        sns.scatterplot(
            data=simulated, x="sd", y="share", ax=ax, color="#C44E52", s=40, zorder=3,
            label="simulated",
        )
    # room around the data, so that points at a share of 0 or at the last SD are not cut
    top = max(curve["share"].max(), 0 if simulated is None else simulated["share"].max())
    ax.set_ylim(-0.03 * top - 1e-3, 1.08 * top + 1e-3)
    ax.set_xlim(grid.min() - 0.02 * np.ptp(grid), grid.max() + 0.02 * np.ptp(grid))
    ax.set_xlabel("SD of the random effect (probability scale)")
    ax.set_ylabel("Share of subjects outside [0, 1]")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_inverse_logit(
    points: Mapping[str, float] | pd.Series | None = None,
    *,
    xlim: tuple[float, float] = (-6.0, 6.0),
    ax: Axes | None = None,
    title: str = "The inverse logit maps any log-odds into (0, 1)",
) -> Axes:
    r"""The logistic curve :math:`p = 1 / (1 + e^{-\eta})`, with labelled points on it.

    Parameters
    ----------
    points : mapping of label to log-odds, or Series, optional
        Log-odds values to mark on the curve, e.g. the four cells' log-odds; each point is
        annotated with its label.
    xlim : (float, float)
        Range of log-odds to draw.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    lo, hi = (float(v) for v in xlim)
    if not lo < hi:
        raise ValueError(f"xlim must be increasing; got {xlim!r}")
    eta = np.linspace(lo, hi, 401)
    curve = pd.DataFrame({"eta": eta, "p": simulate.inv_logit(eta)})
    ax = _new_axes(ax, (6.5, 4.0))
    ax.axhline(0.0, color="0.3", linestyle="--", linewidth=1)
    ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
    sns.lineplot(data=curve, x="eta", y="p", ax=ax, color="#4C72B0")
    if points is not None:
        items = list(points.items())
        marks = pd.DataFrame(
            {
                "label": [".".join(map(str, k)) if isinstance(k, tuple) else str(k)
                          for k, _ in items],
                "eta": [float(v) for _, v in items],
            }
        )
        marks["p"] = simulate.inv_logit(marks["eta"].to_numpy())
        sns.scatterplot(data=marks, x="eta", y="p", ax=ax, color="#C44E52", s=50, zorder=3)
        # one label per distinct point (cells that share a probability share a label), put
        # on the side of the curve that faces the middle, so that no label runs into the
        # dashed lines at 0 and 1 or sits on another
        marks["key"] = marks["eta"].round(6)
        for k, (_, group) in enumerate(marks.groupby("key", sort=True)):
            row = group.iloc[0]
            label = " = ".join(group["label"])
            upper = row.p > 0.5
            ax.annotate(
                f"{label}\n({row.eta:.2f}, {row.p:.2f})", (row.eta, row.p),
                textcoords="offset points", xytext=(10, -24 - 6 * (k % 2)) if upper
                else (-10, 12 + 6 * (k % 2)), ha="left" if upper else "right", fontsize=8,
                arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.6},
            )
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("Log-odds (logit scale)")
    ax.set_ylabel("Probability")
    ax.set_title(title)
    return ax
