"""Exercises: the solutions pass every check, the student copies run and say "not attempted
yet", the copies are up to date, and the checkers answer bad input with feedback.

The notebooks are executed here with nbclient rather than compared by nbval: what matters
for an exercise is the verdict of each check cell, which these tests assert directly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from glmmteach import simulate
from glmmteach.course import exercises as ex

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"
STUDENT = EXERCISES / "student"
SOURCES = sorted(EXERCISES.glob("[0-9][0-9]-*.ipynb"))
LESSON_NAMES = ["01-simulating-probabilities", "02-simulating-log-odds", "03-fitting",
                "04-interpreting", "05-checking", "06-going-further", "07-real-study"]


def _tool():
    spec = importlib.util.spec_from_file_location("make_student_copies",
                                                  ROOT / "tools" / "make_student_copies.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_student_copies", module)
    spec.loader.exec_module(module)
    return module


def _execute(path: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # strict: any error stops the run, except in cells tagged raises-exception (the stubs)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def _tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _check_texts(nb) -> list[str]:
    texts = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "check" in _tags(cell):
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert len(results) == 1, f"check cell without a verdict: {cell.source!r}"
            texts.append(results[0].data["text/plain"])
    return texts


# ----------------------------------------------------------------------------- structure


def test_one_exercise_per_lesson_named_like_the_lesson():
    assert [p.stem for p in SOURCES] == LESSON_NAMES
    lessons = {p.stem for p in (ROOT / "lessons").glob("[0-9][0-9]-*.ipynb")}
    for stem in lessons:
        assert stem in LESSON_NAMES, f"lesson {stem} has no exercise of the same name"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_each_task_has_a_solution_and_a_check(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    solutions = [k for k, c in enumerate(code) if "solution" in _tags(c)]
    checks = [k for k, c in enumerate(code) if "check" in _tags(c)]
    assert 3 <= len(solutions) <= 6
    assert [k + 1 for k in solutions] == checks, "every solution cell is followed by a check"
    for k in solutions:
        assert code[k].source.startswith("### BEGIN SOLUTION")
        assert code[k].source.rstrip().endswith("### END SOLUTION")
    for k in checks:
        assert re.match(r"ex\.check_\w+\(lambda: \w+", code[k].source), code[k].source
    tasks = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Task")]
    assert len(tasks) == len(solutions)


# ----------------------------------------------------------------------------- execution


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_solutions_pass_every_check(path):
    nb = _execute(path)
    texts = _check_texts(nb)
    assert texts
    for text in texts:
        assert text.startswith("Correct"), text
    for cell in nb.cells:
        for out in getattr(cell, "outputs", []):
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_student_copy_runs_top_to_bottom_and_reports_not_attempted(path):
    copy = STUDENT / path.name
    nb = _execute(copy)  # raises if any cell other than a stub fails
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            assert "raises-exception" in _tags(cell)
            assert [e.ename for e in errors] == ["NotImplementedError"]
    texts = _check_texts(nb)
    assert texts
    for text in texts:
        assert text.startswith("Not attempted yet"), text


# ----------------------------------------------------------------------------- the copies


def test_student_copies_are_up_to_date():
    tool = _tool()
    bad = tool.outdated(EXERCISES, STUDENT)
    assert not bad, (f"student copies out of date: {bad}; run "
                     f"python tools/make_student_copies.py")


def test_student_copies_hold_no_solutions_and_no_outputs():
    for path in sorted(STUDENT.glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
                if "solution" in _tags(cell):
                    assert "raise NotImplementedError(" in cell.source
                    assert "raises-exception" in _tags(cell)


def test_the_tool_does_not_touch_the_sources(tmp_path):
    tool = _tool()
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in SOURCES}
    assert tool.main(["--source-dir", str(EXERCISES), "--student-dir", str(tmp_path)]) == 0
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in SOURCES}
    assert before == after
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in SOURCES]
    assert tool.main(["--check", "--source-dir", str(EXERCISES),
                      "--student-dir", str(tmp_path)]) == 0


def test_stub_keeps_indentation_and_unmatched_markers_are_errors():
    tool = _tool()
    text = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nprint(f)"
    out, n = tool.strip_solutions(text, ["raise NotImplementedError()"], "t")
    assert n == 1
    assert out == "def f():\n    raise NotImplementedError()\nprint(f)"
    with pytest.raises(tool.SolutionMarkerError):
        tool.strip_solutions("### BEGIN SOLUTION\nx = 1", ["stub"], "t")
    with pytest.raises(tool.SolutionMarkerError):
        tool.strip_solutions("x = 1\n### END SOLUTION", ["stub"], "t")


def test_check_mode_reports_a_stale_copy(tmp_path):
    tool = _tool()
    src = tmp_path / "src"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Task 1 — x"),
                nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")]
    nbformat.write(nb, src / "01-demo.ipynb")
    assert tool.main(["--source-dir", str(src)]) == 0
    assert tool.main(["--check", "--source-dir", str(src)]) == 0
    nb.cells[1].source = "### BEGIN SOLUTION\nx = 2\n### END SOLUTION"
    nb.cells.append(nbformat.v4.new_code_cell("print(x)"))
    nbformat.write(nb, src / "01-demo.ipynb")
    assert tool.main(["--check", "--source-dir", str(src)]) == 1
    copy = nbformat.read(src / "student" / "01-demo.ipynb", as_version=4)
    assert 'raise NotImplementedError("Task 1:' in copy.cells[1].source


# ----------------------------------------------------------------------------- checkers


FACTORS = {"prompt": ["none", "poster"], "age": ["younger", "older"]}
PROBS = simulate.cell_table([0.25, 0.60, 0.20, 0.22], FACTORS)


def _undefined():
    return name_that_is_not_defined  # noqa: F821


def _stub():
    raise NotImplementedError("Task 1: replace this line")


@pytest.mark.parametrize("answer", [None, Ellipsis, _undefined, _stub, lambda: None],
                         ids=["None", "Ellipsis", "undefined", "stub", "lambda-None"])
def test_unattempted_tasks_are_reported_as_such(answer):
    fb = ex.check_log_odds(answer, probs=PROBS)
    assert fb.status == "not attempted"
    assert str(fb).startswith("Not attempted yet")


def test_an_answer_that_raises_gets_feedback_not_a_traceback():
    fb = ex.check_log_odds(lambda: 1 / 0, probs=PROBS)
    assert fb.status == "invalid" and "ZeroDivisionError" in fb.message


@pytest.mark.parametrize("answer, words", [
    ("0.25", "not a str"),                              # wrong type: a string
    ({"a": 1}, "not a dict"),                           # wrong type: a dict
    ([0.1, 0.2, 0.3], "4 numbers"),                     # wrong shape
    (np.zeros((2, 2)), "4 numbers"),                    # wrong shape (2-D)
    ([0.1, np.nan, 0.2, 0.3], "missing or infinite"),   # missing value
])
def test_bad_input_to_a_vector_checker(answer, words):
    fb = ex.check_log_odds(lambda: answer, probs=PROBS)
    assert fb.status == "invalid", fb
    assert words in fb.message


def test_bad_input_to_a_number_checker():
    for answer, words in [("0.1", "text"), (True, "yes/no"), ([0.1, 0.2], "single number"),
                          (pd.DataFrame({"a": [1, 2]}), "single number"),
                          (float("inf"), "finite")]:
        fb = ex.check_impossible_share(lambda a=answer: a, cell_probs=PROBS, sd=0.25,
                                       factors=FACTORS)
        assert fb.status == "invalid", (answer, fb)
        assert words in fb.message


def test_a_data_frame_missing_a_column_gets_feedback():
    design = simulate.make_design(10, 3, FACTORS, seed=1)
    fb = ex.check_design(lambda: design.drop(columns="day"), n_subjects=10, n_days=3,
                         factors=FACTORS)
    assert fb.status == "invalid" and "'day'" in fb.message
    fb = ex.check_design(lambda: design, n_subjects=10, n_days=3, factors=FACTORS)
    assert fb.passed


def test_cell_values_missing_a_cell_or_not_a_frame():
    short = PROBS.drop(("poster", "older"))
    fb = ex.check_log_odds(lambda: short, probs=PROBS)
    assert fb.status == "invalid"
    fb = ex.check_cell_proportions(lambda: short, data=pd.DataFrame(
        {"prompt": ["none", "poster"] * 2, "age": ["younger"] * 2 + ["older"] * 2,
         "y": [1, 0, 1, 1]}), by=["prompt", "age"])
    assert fb.status == "invalid" and "poster" in fb.message and "older" in fb.message
    fb = ex.check_fitted_model(lambda: "y ~ prompt * age + (1|id)", data=None,
                               factors=["prompt", "age"])
    assert fb.status == "invalid" and "glmer" in fb.message


def test_a_checker_never_raises_even_when_misused():
    fb = ex.check_design(lambda: pd.DataFrame({"id": [1]}), n_subjects=1, n_days=1,
                         factors=None)
    assert fb.status in {"invalid", "error"}
    fb = ex.check_random_sd(lambda: 0.3, data=lambda: undefined_data,  # noqa: F821
                            formula="y ~ 1 + (1|id)")
    assert fb.status == "not attempted" and "earlier task" in fb.message


def test_feedback_renders_as_text_and_html():
    fb = ex.check_log_odds(lambda: simulate.logit(PROBS), probs=PROBS)
    assert fb.passed and bool(fb)
    assert str(fb).startswith("Correct (the log-odds)")
    assert "glmmteach-correct" in fb._repr_html_()
    bad = ex.check_log_odds(lambda: PROBS / (1 - PROBS), probs=PROBS)
    assert not bad and "glmmteach-incorrect" in bad._repr_html_()


# ----------------------------------------------------------------------------- diagnoses


def test_log_odds_mistakes():
    p = PROBS
    cases = {
        "odds": p / (1 - p),
        "log10": np.log10(p / (1 - p)),
        "log(p)": np.log(p),
        "*other* outcome": -simulate.logit(p),
        "still probabilities": p,
    }
    for words, answer in cases.items():
        fb = ex.check_log_odds(lambda a=answer: a, probs=p)
        assert fb.status == "incorrect" and words in fb.message, (words, fb)


def test_coefficient_mistakes_forgotten_or_flipped_interaction():
    right = simulate.probs_to_coefs(PROBS, FACTORS)
    assert ex.check_coefficients(lambda: dict(right), cell_probs=PROBS, factors=FACTORS)
    no_int = right.drop("promptposter:ageolder")
    fb = ex.check_coefficients(lambda: no_int, cell_probs=PROBS, factors=FACTORS)
    assert fb.status == "incorrect" and "interaction" in fb.message
    zero = right.copy()
    zero["promptposter:ageolder"] = 0.0
    fb = ex.check_coefficients(lambda: zero, cell_probs=PROBS, factors=FACTORS)
    assert fb.status == "incorrect" and "interaction" in fb.message
    fb = ex.check_coefficients(lambda: np.exp(right), cell_probs=PROBS, factors=FACTORS)
    assert "exponentiated" in fb.message
    diff = PROBS.to_numpy()
    on_prob = [diff[0], diff[1] - diff[0], diff[2] - diff[0], diff[3] - diff[2] - diff[1] + diff[0]]
    fb = ex.check_coefficients(lambda: on_prob, cell_probs=PROBS, factors=FACTORS)
    assert fb.status == "incorrect" and "differences of probabilities" in fb.message


def test_odds_ratio_forgetting_the_interaction():
    right = simulate.probs_to_coefs(PROBS, FACTORS)
    kwargs = dict(cell_probs=PROBS, factors=FACTORS, effect="prompt", among={"age": "older"})
    good = np.exp(right["promptposter"] + right["promptposter:ageolder"])
    assert ex.check_odds_ratio(lambda: good, **kwargs)
    fb = ex.check_odds_ratio(lambda: np.exp(right["promptposter"]), **kwargs)
    assert fb.status == "incorrect" and "forgot to add the interaction" in fb.message
    fb = ex.check_odds_ratio(lambda: np.log(good), **kwargs)
    assert "log odds ratio" in fb.message


@pytest.fixture(scope="module")
def stairs_fit():
    from glmmteach import glmer

    coefs = simulate.probs_to_coefs(PROBS, FACTORS)
    data = simulate.simulate_logit_scale(simulate.make_design(120, 8, FACTORS, seed=3), coefs,
                                         sd=1.0, factors=FACTORS, seed=4)
    return data, glmer("y ~ prompt * age + (1|id)", data)


def test_conditional_versus_marginal_and_scale_mistakes(stairs_fit):
    _, m = stairs_fit
    b = m.fixef
    eta = np.array([b.iloc[0], b.iloc[0] + b.iloc[1], b.iloc[0] + b.iloc[2], b.sum()])
    sd = float(m.varcorr["sdcor"].iloc[0])
    z = np.random.default_rng(0).standard_normal(400_000)
    marginal = np.array([simulate.inv_logit(e + sd * z).mean() for e in eta])
    conditional = simulate.inv_logit(eta)
    assert ex.check_conditional_probabilities(lambda: conditional, model=m, factors=FACTORS)
    fb = ex.check_conditional_probabilities(lambda: eta, model=m, factors=FACTORS)
    assert fb.status == "incorrect" and "log-odds" in fb.message
    fb = ex.check_conditional_probabilities(lambda: marginal, model=m, factors=FACTORS)
    assert fb.status == "incorrect" and "population-averaged" in fb.message
    no_int = conditional.copy()
    no_int[3] = simulate.inv_logit(eta[3] - b.iloc[3])
    fb = ex.check_conditional_probabilities(lambda: no_int, model=m, factors=FACTORS)
    assert "interaction" in fb.message
    assert ex.check_marginal_probabilities(lambda: marginal, model=m, factors=FACTORS)
    fb = ex.check_marginal_probabilities(lambda: conditional, model=m, factors=FACTORS)
    assert fb.status == "incorrect" and "typical subject" in fb.message


def test_random_sd_given_as_variance_or_from_ranef(stairs_fit):
    data, m = stairs_fit
    f = "y ~ prompt * age + (1|id)"
    sd = float(m.varcorr["sdcor"].iloc[0])
    assert ex.check_random_sd(lambda: sd, data=data, formula=f)
    fb = ex.check_random_sd(lambda: sd**2, data=data, formula=f)
    assert fb.status == "incorrect" and "variance" in fb.message
    modes = m.ranef()["id"].iloc[:, 0]
    fb = ex.check_random_sd(lambda: modes.std(), data=data, formula=f)
    assert fb.status == "incorrect" and "shrunk" in fb.message


def test_model_without_interaction_or_grouped_by_day(stairs_fit):
    import warnings

    from glmmteach import glmer
    from glmmteach.warnings import SingularFitWarning

    data, _ = stairs_fit
    fb = ex.check_fitted_model(lambda: glmer("y ~ prompt + age + (1|id)", data), data=data,
                               factors=["prompt", "age"])
    assert fb.status == "incorrect" and "no interaction" in fb.message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        by_day = glmer("y ~ prompt * age + (1|day)", data)
    fb = ex.check_fitted_model(lambda: by_day, data=data, factors=["prompt", "age"])
    assert fb.status == "incorrect" and "(1|id)" in fb.message


def test_naive_and_logit_simulations_on_the_wrong_scale():
    design = simulate.make_design(200, 5, FACTORS, seed=9)
    naive = simulate.simulate_probability_scale(design, PROBS, sd=0.05, factors=FACTORS,
                                                seed=9, on_impossible="missing")
    coefs = simulate.probs_to_coefs(PROBS, FACTORS)
    logit = simulate.simulate_logit_scale(design, coefs, sd=0.05, factors=FACTORS, seed=9)
    assert ex.check_naive_simulation(lambda: naive, cell_probs=PROBS, sd=0.05, factors=FACTORS)
    fb = ex.check_naive_simulation(lambda: logit, cell_probs=PROBS, sd=0.05, factors=FACTORS)
    assert fb.status == "incorrect"
    big = simulate.simulate_logit_scale(design, coefs, sd=1.5, factors=FACTORS, seed=9)
    assert ex.check_logit_simulation(lambda: big, coefs=coefs, sd=1.5, factors=FACTORS)
    # the random effect added to the probability instead of the log-odds
    wrong = design.copy()
    u = np.random.default_rng(1).normal(0, 0.8, 200)[design["id"] - 1]
    keys = pd.MultiIndex.from_frame(design[["prompt", "age"]].astype(str))
    wrong["p"] = np.clip(PROBS.reindex(keys).to_numpy() + 0.1 * u, 0.001, 0.999)
    wrong["y"] = 0
    fb = ex.check_logit_simulation(lambda: wrong, coefs=coefs, sd=0.08, factors=FACTORS)
    assert fb.status == "incorrect" and "probability scale" in fb.message
    var = simulate.simulate_logit_scale(design, coefs, sd=1.5**2, factors=FACTORS, seed=9)
    fb = ex.check_logit_simulation(lambda: var, coefs=coefs, sd=1.5, factors=FACTORS)
    assert fb.status == "incorrect" and "variance" in fb.message


def test_power_estimate_and_nsim_mistakes():
    assert ex.check_power_estimate(lambda: (0.76, 0.0270111), rejections=190, nsim=250)
    fb = ex.check_power_estimate(lambda: (0.76, 0.76 * 0.24 / 250), rejections=190, nsim=250)
    assert "variance" in fb.message
    assert ex.check_nsim_needed(lambda: 1600, power=0.8, target_se=0.01)
    fb = ex.check_nsim_needed(lambda: 40, power=0.8, target_se=0.01)
    assert fb.status == "incorrect" and "square" in fb.message
    fb = ex.check_nsim_needed(lambda: 6147, power=0.8, target_se=0.01)
    assert "half-width" in fb.message
