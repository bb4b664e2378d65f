"""Tests for the lesson helpers in glmmteach.widgets and glmmteach.plots.

Widgets must build (and react to their sliders) without a running kernel; figures must save
without any warning, with both axes labelled and a title.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from glmmteach import simulate
from glmmteach.course import (
    plots,  # noqa: E402
    widgets,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _check_axes(ax, tmp_path, name):
    assert ax.get_xlabel().strip(), "x axis needs a label"
    assert ax.get_ylabel().strip(), "y axis needs a label"
    assert ax.get_title().strip(), "figure needs a title"
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    assert path.stat().st_size > 1000


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------


def test_plot_subject_probabilities(tmp_path):
    design = simulate.make_design(120, 2, seed=1)
    data = simulate.simulate_probability_scale(design, sd=0.25, seed=2, on_impossible="missing")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plots.plot_subject_probabilities(data)
        _check_axes(ax, tmp_path, "subjects")
    n_bad = data.attrs["n_impossible"]
    assert ax.get_title() == f"{n_bad} of 120 subject probabilities fall outside [0, 1]"
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["control.female", "treat.female", "control.male", "treat.male"]
    # One dot per subject.
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) == 120


def test_plot_subject_probabilities_on_given_axes_and_logit_data(tmp_path):
    design = simulate.make_design(50, 2, seed=3)
    data = simulate.simulate_logit_scale(design, sd=1.0, seed=4)
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = plots.plot_subject_probabilities(data, ax=ax, title="Logit scale")
        _check_axes(out, tmp_path, "logit_subjects")
    assert out is ax
    assert ax.get_title() == "Logit scale"
    with pytest.raises(ValueError, match="no column 'p'"):
        plots.plot_subject_probabilities(data.drop(columns="p"))


def test_plot_impossible_share(tmp_path):
    table = widgets.impossible_share_table([0.1, 0.2, 0.3], seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plots.plot_impossible_share(simulated=table)
        _check_axes(ax, tmp_path, "share")
    line = ax.get_lines()[0]
    x, y = line.get_xdata(), line.get_ydata()
    assert x[0] == 0.0 and y[0] == 0.0
    assert np.all(np.diff(y) >= 0)


def test_plot_inverse_logit(tmp_path):
    eta = simulate.logit(simulate.cell_table(simulate.ARTICLE_CELL_PROBS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plots.plot_inverse_logit(eta)
        _check_axes(ax, tmp_path, "curve")
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("treat.female") for t in texts)
    with pytest.raises(ValueError, match="xlim must be increasing"):
        plots.plot_inverse_logit(xlim=(2, -2))


# --------------------------------------------------------------------------------------------
# widgets
# --------------------------------------------------------------------------------------------


def test_impossible_share_table():
    table = widgets.impossible_share_table([0.0, 0.03, 0.15, 0.3], seed=0)
    assert list(table.columns) == ["sd", "n_subjects", "n_impossible", "share", "expected_share"]
    assert table["n_subjects"].eq(250).all()
    assert table["n_impossible"].iloc[0] == 0
    # The same seed scales the same normal draws, so counts cannot decrease with the SD.
    assert table["n_impossible"].is_monotonic_increasing
    np.testing.assert_allclose(table["share"], table["n_impossible"] / 250)
    assert table["expected_share"].iloc[2] == pytest.approx(
        simulate.expected_impossible_share(sd=0.15)
    )


def test_sd_explorer_builds_and_updates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        box = widgets.sd_explorer(seed=0)
        slider, summary, out = box.children
        assert isinstance(box, w.VBox) and isinstance(slider, w.FloatSlider)
        assert isinstance(out, w.Output)
        assert "SD = 0.03" in summary.value and "0 of 250" in summary.value
        slider.value = 0.3
    n_bad = widgets.impossible_share_table([0.3], seed=0)["n_impossible"].iloc[0]
    assert f"{n_bad} of 250" in summary.value


def test_logit_explorer_builds_and_updates():
    box = widgets.logit_explorer()
    slider, summary, _ = box.children
    assert "log-odds = -0.405" in summary.value
    slider.value = 0.85
    assert "log-odds = 1.735" in summary.value and "odds = 5.667" in summary.value
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        widgets.logit_explorer(p=1.0)


def test_coefficient_explorer_builds_and_updates():
    box = widgets.coefficient_explorer()
    sliders_box, summary, _ = box.children
    sliders = sliders_box.children
    assert [s.description for s in sliders] == [
        "control.female", "treat.female", "control.male", "treat.male",
    ]
    for text in ("-0.4055", "2.1401", "-0.4418", "-1.2928"):
        assert text in summary.value
    sliders[3].value = 0.5 + 0.01  # moving treat.male changes only the interaction
    assert "-0.4418" in summary.value and "2.1401" in summary.value
    assert "-1.2928" not in summary.value
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        widgets.coefficient_explorer([0.4, 0.85, 0.3, 1.0])


def test_draw_into_is_the_one_figure_helper():
    # one helper, used by all explorers; no private copies left behind
    from glmmteach.course import power
    from glmmteach.course.widgets import lessons as lesson_widgets
    assert "draw_into" in widgets.__all__
    assert lesson_widgets.draw_into is widgets.draw_into
    for module in (widgets, lesson_widgets, power):
        assert not hasattr(module, "_draw")
    seen = []
    n_open = len(plt.get_fignums())
    widgets.draw_into(w.Output(), seen.append, figsize=(4.0, 3.0))
    (ax,) = seen
    assert tuple(ax.figure.get_size_inches()) == pytest.approx((4.0, 3.0))
    assert len(plt.get_fignums()) == n_open  # the figure is closed after drawing

    def broken(_ax):
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        widgets.draw_into(w.Output(), broken, figsize=(4.0, 3.0))
    assert len(plt.get_fignums()) == n_open  # closed on error too
