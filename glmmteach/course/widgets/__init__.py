"""ipywidgets explorers used by the lessons.

Each explorer returns an :class:`ipywidgets.VBox` (display it, or leave it as the last line of
a cell): sliders first, then an :class:`~ipywidgets.HTML` summary, then an
:class:`~ipywidgets.Output` with a figure. The numbers an explorer shows come from plain
functions (:func:`impossible_share_table`, :func:`glmmteach.simulate.probs_to_coefs`, ...),
which the lessons also print in a static fallback cell so that they read fine on paper and
nbval can check them. The explorers are independent of each other.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from glmmteach import simulate
from glmmteach.course import plots

__all__ = [
    "impossible_share_table",
    "sd_explorer",
    "logit_explorer",
    "coefficient_explorer",
    "draw_into",
]


def impossible_share_table(
    sds: Sequence[float],
    *,
    design: pd.DataFrame | None = None,
    cell_probs: Mapping | pd.Series | Sequence[float] = simulate.ARTICLE_CELL_PROBS,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
    seed: int = 0,
) -> pd.DataFrame:
    """How many subjects get an impossible probability in the naive simulation, by SD.

    Parameters
    ----------
    sds : sequence of float
        Standard deviations of the probability-scale random effect to try.
    design : DataFrame, optional
        The design to simulate on; default ``make_design(250, 14, factors, seed=seed)``.
    cell_probs : mapping, Series or sequence of float
        Cell probabilities (default: the article's).
    factors : mapping of str to sequence of str
        Factor names and levels.
    seed : int
        Seed (numpy) for the design and for every simulation. Each SD reuses the same seed,
        so the random effects are the same standard normal draws scaled by the SD and the
        counts grow with the SD.

    Returns
    -------
    pandas.DataFrame
        One row per SD with columns ``sd``, ``n_subjects``, ``n_impossible`` (simulated),
        ``share`` (= n_impossible / n_subjects) and ``expected_share`` (closed form,
        :func:`glmmteach.simulate.expected_impossible_share`, for equal cell shares).
    """
    if design is None:
        design = simulate.make_design(250, 14, factors, seed=seed)
    n_subjects = int(design["id"].nunique())
    rows = []
    for sd in sds:
        sim = simulate.simulate_probability_scale(
            design, cell_probs, sd=sd, factors=factors, seed=seed, on_impossible="missing"
        )
        n_bad = sim.attrs["n_impossible"]
        rows.append(
            {
                "sd": float(sd),
                "n_subjects": n_subjects,
                "n_impossible": n_bad,
                "share": n_bad / n_subjects,
                "expected_share": simulate.expected_impossible_share(cell_probs, sd, factors),
            }
        )
    return pd.DataFrame(rows)


def sd_explorer(
    *,
    design: pd.DataFrame | None = None,
    cell_probs: Mapping | pd.Series | Sequence[float] = simulate.ARTICLE_CELL_PROBS,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
    seed: int = 0,
    sd: float = simulate.ARTICLE_SD,
    sd_max: float = 0.4,
) -> w.VBox:
    r"""Slider for the probability-scale random-effect SD; shows the impossible share.

    Moving the slider reruns :func:`glmmteach.simulate.simulate_probability_scale` (same
    seed, so the same subjects move outward as the SD grows), reports how many subject
    probabilities leave [0, 1] next to the expected share, and redraws
    :func:`glmmteach.plots.plot_subject_probabilities`.

    Parameters
    ----------
    design : DataFrame, optional
        Design to simulate on; default ``make_design(250, 14, factors, seed=seed)``.
    cell_probs : mapping, Series or sequence of float
        Cell probabilities (default: the article's 0.40, 0.85, 0.30, 0.50).
    factors : mapping of str to sequence of str
        Factor names and levels.
    seed : int
        numpy seed for the design and the simulations.
    sd : float
        Initial SD (default the article's 0.03).
    sd_max : float
        Largest SD on the slider.

    Returns
    -------
    ipywidgets.VBox
        Children: the SD slider, an HTML summary and an Output holding the figure.

    Notes
    -----
    The expected share is :math:`\frac1C \sum_c [\Phi(-p_c/\sigma) + \Phi((p_c - 1)/\sigma)]`.
    """
    if design is None:
        design = simulate.make_design(250, 14, factors, seed=seed)
    slider = w.FloatSlider(
        value=sd, min=0.0, max=sd_max, step=0.01, description="SD",
        readout_format=".2f", continuous_update=False,
    )
    summary = w.HTML()
    out = w.Output()

    def update(_change=None) -> None:
        table = impossible_share_table(
            [slider.value], design=design, cell_probs=cell_probs, factors=factors, seed=seed
        ).iloc[0]
        summary.value = (
            f"<b>SD = {table.sd:.2f}</b>: {int(table.n_impossible)} of "
            f"{int(table.n_subjects)} subjects "
            f"({100 * table.share:.1f}%) have a probability outside [0, 1]; "
            f"expected share {100 * table.expected_share:.1f}%."
        )
        sim = simulate.simulate_probability_scale(
            design, cell_probs, sd=slider.value, factors=factors, seed=seed,
            on_impossible="missing",
        )
        draw_into(out, lambda ax: plots.plot_subject_probabilities(
            sim, factors=list(factors), ax=ax), figsize=(7.5, 4.2))

    slider.observe(update, names="value")
    update()
    return w.VBox([slider, summary, out])


def logit_explorer(p: float = 0.4) -> w.VBox:
    r"""Slider for a probability; shows its odds and log-odds on the logistic curve.

    Parameters
    ----------
    p : float
        Initial probability, strictly between 0 and 1.

    Returns
    -------
    ipywidgets.VBox
        Children: the probability slider, an HTML summary and an Output with the curve.

    Notes
    -----
    Odds :math:`p / (1 - p)`, log-odds :math:`\log\{p / (1 - p)\}`; the point is drawn on
    :math:`p = 1 / (1 + e^{-\eta})`.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must lie strictly between 0 and 1; got {p!r}")
    slider = w.FloatSlider(
        value=p, min=0.01, max=0.99, step=0.01, description="p",
        readout_format=".2f", continuous_update=False,
    )
    summary = w.HTML()
    out = w.Output()

    def update(_change=None) -> None:
        prob = slider.value
        eta = simulate.logit(prob)
        summary.value = (
            f"<b>p = {prob:.2f}</b>: odds = {prob / (1 - prob):.3f}, "
            f"log-odds = {eta:.3f}; back-transformed: {simulate.inv_logit(eta):.2f}"
        )
        draw_into(out, lambda ax: plots.plot_inverse_logit({f"p = {prob:.2f}": eta}, ax=ax),
                  figsize=(6.5, 4.0))

    slider.observe(update, names="value")
    update()
    return w.VBox([slider, summary, out])


def coefficient_explorer(
    cell_probs: Mapping | pd.Series | Sequence[float] = simulate.ARTICLE_CELL_PROBS,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
) -> w.VBox:
    r"""One slider per cell probability; shows the log-odds coefficients they imply.

    Parameters
    ----------
    cell_probs : mapping, Series or sequence of float
        Initial cell probabilities, strictly inside (0, 1) (default: the article's).
    factors : mapping of str to sequence of str
        Factor names and levels (first level = reference).

    Returns
    -------
    ipywidgets.VBox
        Children: a box of sliders (one per cell, labelled like R's ``interaction()``), an
        HTML table of the coefficients from
        :func:`glmmteach.simulate.probs_to_coefs`, and an Output with the cells' log-odds on
        the logistic curve.

    Notes
    -----
    For two factors the coefficients are :math:`\beta_0 = \eta_{00}`,
    :math:`\alpha = \eta_{10} - \eta_{00}`, :math:`\gamma = \eta_{01} - \eta_{00}` and
    :math:`(\alpha\gamma) = \eta_{11} - \eta_{10} - \eta_{01} + \eta_{00}`, with
    :math:`\eta = \operatorname{logit}(p)`.
    """
    table = simulate.cell_table(cell_probs, factors, name="cell_probs")
    simulate.probs_to_coefs(table, factors)  # validates: strictly inside (0, 1)
    labels = [".".join(cell) for cell in table.index]
    sliders = [
        w.FloatSlider(
            value=float(v), min=0.01, max=0.99, step=0.01, description=label,
            readout_format=".2f", continuous_update=False,
            # one description width for all four, so that the sliders line up
            style={"description_width": "120px"}, layout=w.Layout(width="420px"),
        )
        for label, v in zip(labels, table.to_numpy(), strict=True)
    ]
    summary = w.HTML()
    out = w.Output()

    def update(_change=None) -> None:
        probs = [s.value for s in sliders]
        coefs = simulate.probs_to_coefs(probs, factors)
        rows = "".join(
            f"<tr><td><code>{name}</code></td><td style='text-align:right'>{value:.4f}</td></tr>"
            for name, value in coefs.items()
        )
        summary.value = (
            "<table><tr><th>coefficient</th><th>log-odds</th></tr>" + rows + "</table>"
        )
        eta = dict(zip(labels, simulate.logit(np.array(probs)), strict=True))
        draw_into(out, lambda ax: plots.plot_inverse_logit(
            eta, ax=ax, title="Cell probabilities on the logistic curve"), figsize=(6.5, 4.0))

    for s in sliders:
        s.observe(update, names="value")
    update()
    return w.VBox([w.VBox(sliders), summary, out])


def draw_into(out: w.Output, draw: Callable[[Axes], object],
              figsize: tuple[float, float]) -> None:
    """Draw a fresh figure into an Output widget (or just build it outside a kernel).

    The one figure helper of all the lesson explorers (:mod:`glmmteach.widgets`,
    :mod:`glmmteach.lesson_widgets`, :func:`glmmteach.power.power_explorer`).

    Parameters
    ----------
    out : ipywidgets.Output
        The widget to draw into; its previous figure is replaced.
    draw : callable
        Called with a new matplotlib Axes; draws the figure on it.
    figsize : tuple of float
        Figure size in inches.

    Notes
    -----
    In a running IPython kernel the figure is displayed in ``out``; elsewhere (tests, plain
    Python) it is only built, so that a drawing error still surfaces. The figure is closed
    either way, so redrawing on every slider move does not pile up open figures.
    """
    from IPython import get_ipython
    from IPython.display import display

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    try:
        draw(ax)
        if get_ipython() is not None:
            with out:
                out.clear_output(wait=True)
                display(fig)
    finally:
        plt.close(fig)
