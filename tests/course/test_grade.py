"""``glmmteach grade`` on synthetic submissions of exercise 02 (the fastest to run).

The class: the solution notebook (every task correct), the untouched student copy (nothing
attempted), wrong answers, a notebook that raises, one that loops forever, one that exits
Python, one whose check cell was deleted and another edited, plus a text file, a notebook of
no known exercise and a broken notebook; and, alone, a loop that ignores the interrupt.
What each should get follows from how the submission was made, so the CSV is asserted row
by row.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from glmmteach.course import grade as grading

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "02-simulating-log-odds"
SOURCE = ROOT / "exercises" / f"{EXERCISE}.ipynb"
STUDENT = ROOT / "exercises" / "student" / f"{EXERCISE}.ipynb"
CELL_TIMEOUT = 8


def _solution_cells(nb):
    return [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]


def _check_cells(nb):
    return [c for c in nb.cells if "check" in c.metadata.get("tags", [])]


def _tasks() -> list[str]:
    return [t.label for t in grading.exercise_catalogue()[EXERCISE].tasks]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grade")
    subs = tmp / "submissions"
    subs.mkdir()
    read = lambda p: nbformat.read(p, as_version=4)  # noqa: E731
    nbformat.write(read(SOURCE), subs / "alice.ipynb")             # the solution
    nbformat.write(read(STUDENT), subs / "bob.ipynb")              # nothing attempted
    carol = read(SOURCE)                                           # wrong answers
    _solution_cells(carol)[0].source = "stairs_log_odds = STAIRS_PROBS / (1 - STAIRS_PROBS)"
    _solution_cells(carol)[2].source = "or_older = 1.0"
    nbformat.write(carol, subs / "carol.ipynb")
    dave = read(SOURCE)                                            # raises in task 2
    _solution_cells(dave)[1].source = "raise RuntimeError('my code is broken')"
    nbformat.write(dave, subs / "dave.ipynb")
    erin = read(SOURCE)                                            # loops forever in task 3
    _solution_cells(erin)[2].source = ("open('written-by-erin.txt', 'w').write('x')\n"
                                       "while True:\n    pass")
    nbformat.write(erin, subs / "erin.ipynb")
    frank = read(SOURCE)        # deletes the task 4 check, edits the task 1 check to "pass"
    _solution_cells(frank)[0].source = "stairs_log_odds = STAIRS_PROBS * 2"
    _check_cells(frank)[0].source = (
        "ex.check_log_odds(lambda: np.log(STAIRS_PROBS / (1 - STAIRS_PROBS)), "
        "probs=STAIRS_PROBS)")
    frank.cells.remove(_check_cells(frank)[3])
    frank.metadata.pop("glmmteach", None)
    nbformat.write(frank, subs / "frank.ipynb")
    ivan = read(SOURCE)                                            # exits Python in task 2
    _solution_cells(ivan)[1].source = "import os\nos._exit(3)"
    nbformat.write(ivan, subs / "ivan.ipynb")
    (subs / "notes.txt").write_text("not a notebook")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]),
                   subs / "gina.ipynb")                            # no known exercise
    (subs / "hal.ipynb").write_text("{ this is not json")          # broken file
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in subs.iterdir()}
    out = tmp / "out"
    scratch = tmp / "scratch"
    scratch.mkdir()
    report = grading.grade(subs, out, jobs=2, cell_timeout=CELL_TIMEOUT, notebook_timeout=120,
                           scratch=scratch, log=lambda msg: None)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in subs.iterdir()}
    return {"report": report, "out": out, "subs": subs, "tmp": tmp, "before": before,
            "after": after, "scratch": scratch}


def _status(grades: pd.DataFrame, student: str) -> list[str]:
    rows = grades[(grades["student"] == student) & (grades["task"] != "TOTAL")]
    assert list(rows["task"]) == _tasks()
    assert set(rows["exercise"]) == {EXERCISE}
    return list(rows["status"])


def _total(grades: pd.DataFrame, student: str) -> tuple[int, int, str]:
    row = grades[(grades["student"] == student) & (grades["task"] == "TOTAL")]
    assert len(row) == 1
    r = row.iloc[0]
    return int(r["score"]), int(r["max_score"]), str(r["message"])


def test_grades_csv_holds_one_row_per_student_and_task_and_a_total(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    assert list(grades.columns) == ["student", "file", "exercise", "task", "title", "check",
                                    "status", "score", "max_score", "message"]
    n = len(_tasks())
    assert n == 4
    assert sorted(set(grades["student"])) == ["alice", "bob", "carol", "dave", "erin", "frank",
                                              "ivan"]
    assert len(grades) == 7 * (n + 1)
    assert set(grades["status"]) - {""} <= set(grading.STATUSES)
    tasks = grades[grades["task"] != "TOTAL"]
    assert (tasks["score"] == (tasks["status"] == "correct")).all()
    assert (tasks["message"] != "").all()


def test_the_solution_gets_every_task_right(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    assert _status(grades, "alice") == ["correct"] * 4
    assert _total(grades, "alice")[:2] == (4, 4)


def test_the_student_copy_is_not_attempted(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    assert _status(grades, "bob") == ["not attempted"] * 4
    rows = grades[(grades["student"] == "bob") & (grades["task"] != "TOTAL")]
    assert rows["message"].str.contains("not defined yet").all()
    assert _total(grades, "bob")[:2] == (0, 4)


def test_wrong_answers_are_incorrect_with_the_checkers_message(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    assert _status(grades, "carol") == ["incorrect", "correct", "incorrect", "correct"]
    msg = grades[(grades["student"] == "carol") & (grades["task"] == "Task 1")]["message"]
    assert "log" in msg.iloc[0]  # the odds themselves were given: the log is missing


def test_a_notebook_that_raises_is_graded_past_the_error(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    # task 3 needs task 2's coefficients, task 4 does not
    assert _status(grades, "dave") == ["correct", "not attempted", "not attempted", "correct"]
    assert "RuntimeError: my code is broken" in _total(grades, "dave")[2]


def test_a_notebook_that_loops_is_interrupted_and_graded(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    assert _status(grades, "erin") == ["correct", "correct", "not attempted", "correct"]
    assert "ran past its time limit" in _total(grades, "erin")[2]


def test_a_notebook_that_kills_its_kernel_is_graded_up_to_there(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    assert _status(grades, "ivan") == ["correct", "error", "error", "error"]
    rows = grades[grades["student"] == "ivan"].set_index("task")
    assert rows.loc["Task 2", "message"] == "not run: the kernel died"
    assert "the kernel died in cell" in rows.loc["TOTAL", "message"]


def test_deleted_and_edited_check_cells(graded):
    grades = pd.read_csv(graded["out"] / "grades.csv", keep_default_na=False)
    # found by its checks (metadata removed); the edited check ran as in the exercise
    assert _status(grades, "frank") == ["incorrect", "correct", "correct", "not attempted"]
    rows = grades[grades["student"] == "frank"].set_index("task")
    assert "missing from the notebook" in rows.loc["Task 4", "message"]
    assert "check cell of Task 1 was edited" in rows.loc["TOTAL", "message"]


def test_bad_inputs_are_reported_and_the_others_graded(graded):
    problems = {Path(p.path).name: p.message for p in graded["report"].problems}
    assert set(problems) == {"notes.txt", "gina.ipynb", "hal.ipynb"}
    assert "not a notebook" in problems["notes.txt"]
    assert "cannot tell which exercise" in problems["gina.ipynb"]
    assert "02-simulating-log-odds" in problems["gina.ipynb"]  # lists the known ones
    assert "not a readable notebook" in problems["hal.ipynb"]
    text = (graded["out"] / "not-graded.txt").read_text()
    assert "gina.ipynb" in text and "hal.ipynb" in text
    assert "Not graded" in (graded["out"] / "summary.html").read_text()


def test_feedback_pages_and_class_summary(graded):
    out = graded["out"]
    page = (out / "feedback" / "carol.html").read_text()
    assert "Task 1" in page and "incorrect" in page and "Task 2" in page
    assert "ran past its time limit" in (out / "feedback" / "erin.html").read_text()
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["task"]) == _tasks()
    assert (summary["n"] == 7).all()
    # share correct per task, counted from the statuses above
    assert summary["share correct"].round(4).tolist() == [round(x / 7, 4)
                                                          for x in (4, 4, 2, 4)]
    shares = summary[[f"share {s}" for s in grading.STATUSES]].sum(axis=1)
    assert (shares.round(9) == 1).all()
    png = (out / "summary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert 'src="summary.png"' in (out / "summary.html").read_text()


def test_nothing_is_written_outside_scratch_and_out(graded):
    assert graded["before"] == graded["after"]  # the submissions are untouched
    assert not (graded["subs"] / "written-by-erin.txt").exists()
    assert sorted(p.name for p in graded["tmp"].iterdir()) == ["out", "scratch",
                                                               "submissions"]
    assert not list(graded["scratch"].rglob("written-by-erin.txt"))  # scratch work removed


def test_no_kernel_is_left_running(graded):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(graded["scratch"]) not in out


def test_a_kernel_that_ignores_the_interrupt_is_stopped(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.read(SOURCE, as_version=4)
    _solution_cells(nb)[1].source = ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)"
                                     "\nwhile True:\n    pass")
    nbformat.write(nb, subs / "stubborn.ipynb")
    report = grading.grade(subs, tmp_path / "out", cell_timeout=2, notebook_timeout=60,
                           log=lambda msg: None)
    (sub,) = report.submissions
    assert [r.status for r in sub.results] == ["correct", "error", "error", "error"]
    assert sub.results[1].message == "not run: the kernel stopped responding"
    assert any("did not respond after the interrupt" in n for n in sub.notes)
    assert sub.seconds < 60


def test_empty_folder_and_missing_folder_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "glmmteach.course.cli", "grade", str(empty),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert f"no notebook (.ipynb) to grade in {empty}" in proc.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(grading.GradeInputError, match="must be a folder"):
        grading.grade(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(grading.GradeInputError, match="cell_timeout must be a positive"):
        grading.grade(empty, tmp_path / "out", cell_timeout=0)


def test_feedback_is_read_from_the_json_html_or_text_output():
    from glmmteach.course.exercises import Feedback

    fb = Feedback("the log-odds", "incorrect", "use the log <of> the odds")
    bundle = fb._repr_mimebundle_()
    assert bundle[grading.FEEDBACK_MIME]["status"] == "incorrect"
    outputs = [{"output_type": "execute_result", "data": bundle}]
    assert grading._feedback(outputs) == ("incorrect", "use the log <of> the odds")
    html_only = [{"output_type": "execute_result",
                  "data": {"text/html": fb._repr_html_(), "text/plain": str(fb)}}]
    assert grading._feedback(html_only) == ("incorrect", "use the log <of> the odds")
    text_only = [{"output_type": "execute_result", "data": {"text/plain": str(fb)}}]
    assert grading._feedback(text_only) == ("incorrect", "use the log <of> the odds")
    assert grading._feedback([{"output_type": "stream", "text": "hi"}]) is None
