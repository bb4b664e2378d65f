r"""Grade a class's exercise notebooks: run each headless, collect every check cell's verdict.

Usage::

    glmmteach grade SUBMISSIONS --out DIR [--jobs 2] [--cell-timeout 60] [--timeout 600]

``SUBMISSIONS`` is a folder with one notebook per student: either ``alice.ipynb`` files (the
student is the file name) or one sub-folder per student (``alice/03-fitting.ipynb``; the
student is the folder name, and files beside the notebook, e.g. data, are available to it).
Any exercise can be handed in; which one a notebook is comes from the metadata the student
copies carry (``glmmteach.student_copy_of``), else from the check functions it calls.

Each notebook is run by nbclient in a fresh kernel, in a scratch copy of its folder, with a
time limit per cell and per notebook. The check cells (tagged ``check``) are run with the
exercise's own source, so an edited check cell cannot change what is checked. What each check
cell shows -- the :class:`~glmmteach.course.exercises.Feedback` with its status and message
-- is collected. A task gets one of

* ``correct``, ``incorrect``, ``invalid`` (wrong form), ``not attempted`` -- the checker's
  verdict;
* ``error`` -- the checker could not check (it reported a problem), the check cell raised
  (e.g. the first cell with the imports was deleted or failed), or it never ran (the
  notebook's time limit was reached or the kernel died or stopped responding).

A cell that raises does not stop the run (the later cells still run, as with "Run All" in
a notebook whose cells are tagged ``raises-exception``); a cell that runs past its time
limit is interrupted; a deleted check cell makes its task ``not attempted``. Every such event
is reported on the student's page, and one notebook's failure never stops the others.

Output in ``--out``:

* ``grades.csv`` -- one row per student and task (``student, file, exercise, task, title,
  check, status, score, max_score, message``) and a ``TOTAL`` row per student;
* ``feedback/<student>.html`` -- each task's verdict and message, and what went wrong;
* ``summary.csv``, ``summary.html`` and ``summary.png`` -- per task, the number of
  submissions and the share in each status (the share correct first), and the inputs that
  could not be graded.

.. warning::
   **This is not a sandbox.** Students' code runs with the rights of the account that runs
   the grader: it can read and write whatever that account can, and use the network. The
   grader itself writes only into its scratch folder (a temporary directory, removed at the
   end) and ``--out``, and it points the kernel's HOME, IPython, matplotlib and Jupyter
   folders into the scratch folder, but it cannot stop a malicious notebook. Run it in a
   container or under a throw-away account that holds nothing else.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import nbformat

__all__ = ["STATUSES", "FEEDBACK_MIME", "Task", "Exercise", "TaskResult", "Submission",
           "Problem", "GradeReport", "exercise_catalogue", "identify_exercise",
           "find_submissions", "grade_notebook", "grade", "write_report", "main",
           "add_arguments"]

CORRECT, INCORRECT, INVALID, NOT_ATTEMPTED, ERROR = (
    "correct", "incorrect", "invalid", "not attempted", "error")
STATUSES = (CORRECT, INCORRECT, INVALID, NOT_ATTEMPTED, ERROR)
FEEDBACK_MIME = "application/vnd.glmmteach.feedback+json"
_HEADLINES = {"Correct": CORRECT, "Not yet": INCORRECT, "Not attempted yet": NOT_ATTEMPTED,
              "Check the form of your answer": INVALID,
              "The checker could not check this answer": ERROR}
_COLOURS = {CORRECT: ("#e8f5e9", "#2e7d32"), INCORRECT: ("#fdecea", "#c62828"),
            INVALID: ("#fff8e1", "#f9a825"), NOT_ATTEMPTED: ("#f1f3f4", "#757575"),
            ERROR: ("#ede7f6", "#4527a0")}
_CHECK_CALL = re.compile(r"\bcheck_\w+(?=\s*\()")
_TASK_HEADING = re.compile(r"^#+\s*(Task\s+\w+)\s*(?:[—–:-]+\s*(.*))?$", re.MULTILINE)
_TIMEOUT_ENAME = "CellTimeoutError"


class GradeInputError(ValueError):
    """A submission that cannot be graded (not a notebook, unknown exercise, ...)."""


# --------------------------------------------------------------------------------------------
# the exercises: which tasks and check cells each has
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One task of an exercise and its check cell."""

    label: str    # "Task 3"
    title: str    # "the naive simulation"
    check: str    # the checker's name, "check_naive_simulation"
    source: str   # the check cell's source in the exercise


@dataclass(frozen=True)
class Exercise:
    number: str   # "01"
    name: str     # "01-simulating-probabilities"
    tasks: tuple[Task, ...]

    @property
    def checks(self) -> set[str]:
        return {t.check for t in self.tasks}


def _check_name(source: str) -> str | None:
    found = _CHECK_CALL.search(source)
    return found.group(0) if found else None


def _is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and ("check" in cell.metadata.get("tags", [])
                                         or _check_name(cell.source) is not None)


def _tasks(nb) -> tuple[Task, ...]:
    tasks, label, title = [], None, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = _TASK_HEADING.search(cell.source)
            if found:
                label, title = found.group(1), (found.group(2) or "").strip()
        elif _is_check_cell(cell) and _check_name(cell.source):
            name = _check_name(cell.source)
            tasks.append(Task(label or f"Task {len(tasks) + 1}", title, name, cell.source))
            label, title = None, ""
    return tuple(tasks)


def exercise_catalogue(exercises_dir: Path | None = None) -> dict[str, Exercise]:
    """The exercises (from their source notebooks), keyed by name ``NN-title``."""
    if exercises_dir is None:
        from glmmteach.course.notebooks import exercise_sources
        paths = exercise_sources()
    else:
        from glmmteach.course.notebooks import NOTEBOOK_PATTERN
        paths = sorted(Path(exercises_dir).glob(NOTEBOOK_PATTERN))
    out = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = Exercise(path.name[:2], path.stem, _tasks(nb))
    return out


def identify_exercise(nb, catalogue: dict[str, Exercise], where: str = "notebook") -> Exercise:
    """Which exercise a submission is: its metadata, else the check functions it calls."""
    meta = (nb.metadata.get("glmmteach") or {}).get("student_copy_of")
    if isinstance(meta, str):
        stem = Path(meta).stem
        if stem in catalogue:
            return catalogue[stem]
    called = {_check_name(c.source) for c in nb.cells if c.cell_type == "code"} - {None}
    scores = sorted(((len(ex.checks & called), name) for name, ex in catalogue.items()),
                    reverse=True)
    if not scores or scores[0][0] == 0 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
        known = ", ".join(catalogue) or "none"
        hint = f" (its metadata names {meta!r})" if meta else ""
        raise GradeInputError(
            f"{where}: cannot tell which exercise this is{hint}: it calls none of the checks "
            f"of a known exercise. Known exercises: {known}. Hand in the notebook made from "
            f"the student copy in exercises/student/.")
    return catalogue[scores[0][1]]


# --------------------------------------------------------------------------------------------
# the submissions
# --------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """An input that could not be graded, and why."""

    path: str
    message: str


@dataclass
class _Input:
    student: str
    notebook: Path
    folder: Path | None   # the student's own folder (copied whole), or None for a flat file


def find_submissions(folder: Path) -> tuple[list[_Input], list[Problem]]:
    """The notebooks to grade in ``folder`` and the entries that are not notebooks."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GradeInputError(f"SUBMISSIONS must be a folder of notebooks; {folder} is "
                              f"{'a file' if folder.exists() else 'missing'}")
    found, problems = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if ".ipynb_checkpoints" not in p.parts)
            if not notebooks:
                problems.append(Problem(str(entry), "a folder without a notebook (.ipynb); "
                                                    "skipped"))
            for nb in notebooks:
                found.append(_Input(entry.name, nb, entry))
        elif entry.suffix == ".ipynb":
            found.append(_Input(entry.stem, entry, None))
        else:
            problems.append(Problem(str(entry), f"not a notebook (expected .ipynb, got "
                                                f"{entry.suffix or 'no extension'}); skipped"))
    return found, problems


# --------------------------------------------------------------------------------------------
# reading a check cell's verdict
# --------------------------------------------------------------------------------------------


class _FeedbackHTML(HTMLParser):
    """The status and message of a Feedback's HTML box (for outputs without the JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.status: str | None = None
        self.parts: list[str] = []
        self._after_br = False

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "glmmteach-feedback" in classes:
            for c in classes:
                s = c.removeprefix("glmmteach-").replace("-", " ")
                if c != "glmmteach-feedback" and s in STATUSES:
                    self.status = s
        elif tag == "br":
            self._after_br = True

    def handle_data(self, data):
        if self._after_br:
            self.parts.append(data)


def _feedback(outputs) -> tuple[str, str] | None:
    """(status, message) of the last Feedback among a cell's outputs, or None."""
    found = None
    for out in outputs:
        data = out.get("data") or {}
        if FEEDBACK_MIME in data:
            payload = data[FEEDBACK_MIME]
            if isinstance(payload, str):
                try:
                    payload = json.loads(payload)
                except ValueError:
                    payload = {}
            if isinstance(payload, dict) and payload.get("status") in STATUSES:
                found = (payload["status"], str(payload.get("message", "")))
                continue
        if "text/html" in data:
            parser = _FeedbackHTML()
            parser.feed("".join(data["text/html"]))
            if parser.status:
                found = (parser.status, html.unescape("".join(parser.parts)).strip())
                continue
        text = "".join(data.get("text/plain", ""))
        for headline, status in _HEADLINES.items():
            if text.startswith(headline + " ("):
                found = (status, text.split("): ", 1)[-1])
    return found


# --------------------------------------------------------------------------------------------
# running one notebook
# --------------------------------------------------------------------------------------------


@dataclass
class TaskResult:
    task: Task
    status: str
    message: str


@dataclass
class Submission:
    """The graded notebook of one student."""

    student: str
    path: str
    exercise: Exercise
    results: list[TaskResult]
    notes: list[str] = field(default_factory=list)   # what went wrong while it ran
    seconds: float = 0.0

    @property
    def score(self) -> int:
        return sum(r.status == CORRECT for r in self.results)


def _error_text(outputs) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


def _kernel_env(scratch: Path) -> dict[str, str]:
    """The kernel's environment: its settings and caches go into the scratch folder."""
    env = dict(os.environ)
    dirs = {"HOME": "home", "USERPROFILE": "home", "IPYTHONDIR": "ipython",
            "MPLCONFIGDIR": "matplotlib", "JUPYTER_CONFIG_DIR": "jupyter-config",
            "JUPYTER_DATA_DIR": "jupyter-data", "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
            "TMPDIR": "tmp", "TEMP": "tmp", "TMP": "tmp", "XDG_CACHE_HOME": "cache"}
    for var, name in dirs.items():
        (scratch / name).mkdir(exist_ok=True)
        env[var] = str(scratch / name)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def grade_notebook(item: _Input, catalogue: dict[str, Exercise], scratch: Path, *,
                   cell_timeout: float = 60, notebook_timeout: float = 600,
                   kernel_name: str = "python3") -> tuple[Submission, object]:
    """Run one submission in ``scratch`` and return its grades and the executed notebook.

    Raises :class:`GradeInputError` for a file that is not a notebook of a known exercise;
    everything that happens while the notebook runs is reported in the result instead.
    """
    from jupyter_client import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    where = str(item.notebook)
    try:
        nb = nbformat.read(item.notebook, as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported, not raised
        raise GradeInputError(f"{where}: not a readable notebook ({type(err).__name__}: "
                              f"{err})") from None
    exercise = identify_exercise(nb, catalogue, where)

    # the scratch copy of the student's folder (or of the lone notebook)
    work = scratch / "work"
    if item.folder is not None:
        shutil.copytree(item.folder, work, symlinks=True)
        nb_path = work / item.notebook.relative_to(item.folder)
    else:
        work.mkdir(parents=True)
        nb_path = work / item.notebook.name
        shutil.copy2(item.notebook, nb_path)
    env = _kernel_env(scratch)

    # the check cells run the exercise's own source; a missing one is reported
    by_check = {t.check: t for t in exercise.tasks}
    seen: dict[str, list[int]] = {}
    notes: list[str] = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        name = _check_name(cell.source)
        if name in by_check and _is_check_cell(cell):
            seen.setdefault(name, []).append(k)
            if cell.source.strip() != by_check[name].source.strip():
                notes.append(f"the check cell of {by_check[name].label} was edited; it was "
                             f"run as in the exercise")
                cell.source = by_check[name].source
        cell.outputs = []
        cell.execution_count = None

    km = AsyncKernelManager(kernel_name=kernel_name,
                       connection_file=str(scratch / "jupyter-runtime" / "kernel.json"))
    client = NotebookClient(
        nb, km=km, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": _TIMEOUT_ENAME,
                          "evalue": f"the cell ran longer than {cell_timeout:g} s and was "
                                    f"interrupted", "traceback": []},
        record_timing=False, store_widget_state=False, kernel_name=kernel_name,
        extra_arguments=["--HistoryManager.enabled=False"],
        resources={"metadata": {"path": str(nb_path.parent)}})
    # the kernel's error replies: a cell that timed out has no error output, only the reply
    replies: dict[int, str] = {}

    def on_error(cell, cell_index, execute_reply):
        replies[id(cell)] = execute_reply.get("content", {}).get("ename", "")

    client.on_cell_error = on_error
    not_run: dict[int, str] = {}
    start = time.monotonic()
    deadline = start + notebook_timeout
    try:
        # the kernel's own stdout/stderr (not the notebook's output) would clutter the log
        with client.setup_kernel(env=env, cwd=str(nb_path.parent),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            stop_reason = None
            for k, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if stop_reason is None and time.monotonic() >= deadline:
                    stop_reason = (f"not run: the notebook's time limit ({notebook_timeout:g} s) "
                                   f"was reached")
                    notes.append(f"the notebook's time limit ({notebook_timeout:g} s) was reached "
                                 f"at cell {k}; the remaining cells were not run")
                if stop_reason is not None:
                    not_run[k] = stop_reason
                    continue
                client.timeout = max(1, min(cell_timeout, deadline - time.monotonic()))
                client.error_on_timeout = {**client.error_on_timeout,
                                           "evalue": f"the cell ran longer than "
                                                     f"{client.timeout:.0f} s and was "
                                                     f"interrupted"}
                try:
                    client.execute_cell(cell, k)
                except DeadKernelError:
                    stop_reason = "not run: the kernel died"
                    notes.append(f"the kernel died in cell {k} (did the code exit Python or run "
                                 f"out of memory?); the remaining cells were not run")
                    not_run[k] = stop_reason
                    continue
                err = _error_text(cell.outputs)
                timed_out = replies.get(id(cell)) == _TIMEOUT_ENAME or (
                    bool(err) and err.startswith("KeyboardInterrupt"))
                stub = (err or "").startswith("NotImplementedError") \
                    and "raises-exception" in cell.metadata.get("tags", [])
                if err and not timed_out and not stub and not _is_check_cell(cell):
                    notes.append(f"cell {k} raised {err}")
                if timed_out:
                    notes.append(f"cell {k} ran past its time limit ({client.timeout:.0f} s) "
                                 f"and was interrupted")
                    if not _responsive(client, k, replies,
                                       timeout=max(5.0, min(15.0, 2 * cell_timeout))):
                        stop_reason = "not run: the kernel stopped responding"
                        notes.append("the kernel did not respond after the interrupt; the "
                                     "remaining cells were not run")
    except DeadKernelError:
        notes.append("the kernel died; the remaining cells were not run")
    except Exception as err:  # noqa: BLE001 - one notebook never stops the run
        notes.append(f"the grader could not run this notebook: {type(err).__name__}: {err}")
    finally:  # we own the kernel manager, so nbclient leaves the kernel to us
        _shutdown(km)
    seconds = time.monotonic() - start

    results = []
    for task in exercise.tasks:
        cells = seen.get(task.check)
        if not cells:
            results.append(TaskResult(task, NOT_ATTEMPTED,
                                      "the check cell of this task is missing from the notebook "
                                      "(deleted?), so the task could not be graded; restore it "
                                      "from the student copy"))
            continue
        k = cells[-1]
        cell = nb.cells[k]
        verdict = _feedback(cell.outputs)
        if verdict is not None:
            results.append(TaskResult(task, *verdict))
        elif k in not_run:
            results.append(TaskResult(task, ERROR, not_run[k]))
        elif (err := _error_text(cell.outputs)) is not None:
            results.append(TaskResult(task, ERROR, f"the check cell raised {err}"))
        elif "execution_count" in cell and cell.execution_count is None and not cell.outputs:
            results.append(TaskResult(task, ERROR, "not run"))
        else:
            results.append(TaskResult(task, ERROR, "the check cell showed no feedback"))
    sub = Submission(item.student, str(item.notebook), exercise, results, notes, seconds)
    return sub, nb


def _shutdown(km) -> None:
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - a kernel that is already gone
        pass
    try:
        run_sync(km.cleanup_resources)()
    except Exception:  # noqa: BLE001
        pass


def _responsive(client, index: int, replies: dict, timeout: float = 15) -> bool:
    """After an interrupted cell: does the kernel answer a trivial cell?"""
    from nbclient.exceptions import DeadKernelError

    probe = nbformat.v4.new_code_cell("pass")
    saved, saved_err = client.timeout, client.error_on_timeout
    client.timeout = timeout
    client.error_on_timeout = {"ename": _TIMEOUT_ENAME, "evalue": "probe", "traceback": []}
    try:
        client.execute_cell(probe, index)
    except DeadKernelError:
        return False
    finally:
        client.timeout, client.error_on_timeout = saved, saved_err
    return id(probe) not in replies and _error_text(probe.outputs) is None


# --------------------------------------------------------------------------------------------
# the class
# --------------------------------------------------------------------------------------------


@dataclass
class GradeReport:
    submissions: list[Submission]
    problems: list[Problem]
    out: Path


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "student"


def grade(submissions: Path, out: Path, *, jobs: int = 1, cell_timeout: float = 60,
          notebook_timeout: float = 600, exercises_dir: Path | None = None,
          scratch: Path | None = None, log=None) -> GradeReport:
    """Grade every notebook in ``submissions`` and write the reports into ``out``.

    Returns the :class:`GradeReport`. Raises :class:`GradeInputError` when ``submissions``
    is not a folder or holds no notebook at all; a file that cannot be graded is listed in
    ``report.problems`` and the others are graded.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    for name, value in (("jobs", jobs), ("cell_timeout", cell_timeout),
                        ("notebook_timeout", notebook_timeout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise GradeInputError(f"{name} must be a positive number; got {value!r}")
    inputs, problems = find_submissions(submissions)
    if not inputs:
        extra = f" ({len(problems)} other entries skipped)" if problems else ""
        raise GradeInputError(f"no notebook (.ipynb) to grade in {submissions}{extra}")
    catalogue = exercise_catalogue(exercises_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    own_scratch = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="glmmteach-grade-")) if own_scratch else Path(scratch)
    graded: list[Submission | None] = [None] * len(inputs)
    executed: dict[int, object] = {}

    def one(k: int):
        item = inputs[k]
        t0 = time.monotonic()
        try:
            sub, nb = grade_notebook(item, catalogue, scratch / f"{k:04d}",
                                     cell_timeout=cell_timeout,
                                     notebook_timeout=notebook_timeout)
        except GradeInputError as err:
            return k, None, None, Problem(str(item.notebook), str(err))
        except Exception as err:  # noqa: BLE001 - never crash the run
            return k, None, None, Problem(str(item.notebook),
                                          f"the grader failed: {type(err).__name__}: {err}")
        finally:
            shutil.rmtree(scratch / f"{k:04d}" / "work", ignore_errors=True)
        log(f"graded {item.student} ({sub.exercise.name}): {sub.score}/{len(sub.results)} "
            f"correct in {time.monotonic() - t0:.1f} s"
            + (f"; {len(sub.notes)} note(s)" if sub.notes else ""))
        return k, sub, nb, None

    try:
        if jobs == 1:
            done = map(one, range(len(inputs)))
        else:
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=int(jobs))
            done = pool.map(one, range(len(inputs)))
        for k, sub, nb, problem in done:
            if problem is not None:
                log(f"skipped {problem.path}: {problem.message}")
                problems.append(problem)
            else:
                graded[k], executed[k] = sub, nb
        if jobs != 1:
            pool.shutdown()
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    subs = [s for s in graded if s is not None]
    report = GradeReport(subs, problems, out)
    write_report(report, {id(graded[k]): nb for k, nb in executed.items()})
    return report


# --------------------------------------------------------------------------------------------
# the reports
# --------------------------------------------------------------------------------------------


def _rows(report: GradeReport):
    import pandas as pd

    rows = []
    by_student: dict[str, list[Submission]] = {}
    for sub in report.submissions:
        by_student.setdefault(sub.student, []).append(sub)
    for student in sorted(by_student):
        subs = by_student[student]
        for sub in subs:
            for r in sub.results:
                rows.append({"student": student, "file": Path(sub.path).name,
                             "exercise": sub.exercise.name, "task": r.task.label,
                             "title": r.task.title, "check": r.task.check, "status": r.status,
                             "score": int(r.status == CORRECT), "max_score": 1,
                             "message": r.message})
        rows.append({"student": student, "file": "; ".join(Path(s.path).name for s in subs),
                     "exercise": "; ".join(s.exercise.name for s in subs), "task": "TOTAL",
                     "title": "", "check": "", "status": "",
                     "score": sum(s.score for s in subs),
                     "max_score": sum(len(s.results) for s in subs),
                     "message": "; ".join(n for s in subs for n in s.notes)})
    columns = ["student", "file", "exercise", "task", "title", "check", "status", "score",
               "max_score", "message"]
    return pd.DataFrame(rows, columns=columns)


def _summary(grades):
    import pandas as pd

    tasks = grades[grades["task"] != "TOTAL"]
    rows = []
    for (exercise, task), g in tasks.groupby(["exercise", "task"], sort=True):
        row = {"exercise": exercise, "task": task, "title": g["title"].iloc[0],
               "n": len(g)}
        for s in STATUSES:
            row[f"share {s}"] = float((g["status"] == s).mean())
        rows.append(row)
    return pd.DataFrame(rows, columns=["exercise", "task", "title", "n"]
                        + [f"share {s}" for s in STATUSES])


def _figure(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    labels = [f"{e[:2]} {t}" for e, t in zip(summary["exercise"], summary["task"])]
    n = max(1, len(labels))
    fig = Figure(figsize=(8, 1.2 + 0.42 * n))
    ax = fig.subplots()
    left = [0.0] * len(labels)
    y = list(range(len(labels)))[::-1]
    for s in STATUSES:
        share = summary[f"share {s}"].to_numpy()
        ax.barh(y, share, left=left, color=_COLOURS[s][1], edgecolor="white", label=s,
                height=0.7)
        left = [a + b for a, b in zip(left, share)]
    for yy, share, count in zip(y, summary["share correct"], summary["n"]):
        ax.text(1.01, yy, f"{share:.0%} correct (n={count})", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("share of submissions")
    ax.set_title("Share correct per task (by exercise)", loc="left", fontsize=11)
    ax.legend(ncol=5, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.4 / n),
              frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close("all")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }}
.task {{ padding: 6px 10px; margin: 6px 0; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd;
padding: .3rem .6rem; text-align: left; }}
</style></head><body>
{body}
</body></html>
"""


def _student_page(student: str, subs: Sequence[Submission]) -> str:
    parts = [f"<h1>Feedback for {html.escape(student)}</h1>"]
    for sub in subs:
        parts.append(f"<h2>Exercise {html.escape(sub.exercise.name)}: {sub.score} of "
                     f"{len(sub.results)} tasks correct</h2>"
                     f"<p>File: <code>{html.escape(Path(sub.path).name)}</code></p>")
        for r in sub.results:
            bg, border = _COLOURS[r.status]
            title = f" — {html.escape(r.task.title)}" if r.task.title else ""
            parts.append(
                f'<div class="task status-{r.status.replace(" ", "-")}" style="background:{bg};'
                f'border-left:5px solid {border}"><b>{html.escape(r.task.label)}{title}: '
                f"{html.escape(r.status)}</b><br>{html.escape(r.message)}</div>")
        if sub.notes:
            parts.append("<h3>While the notebook ran</h3><ul>"
                         + "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes) + "</ul>")
    return _PAGE.format(title=f"Feedback: {html.escape(student)}", body="\n".join(parts))


def _summary_page(summary, report: GradeReport) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in
                   ["exercise", "task", "title", "n", *STATUSES])
    rows = []
    for _, r in summary.iterrows():
        cells = [r["exercise"], r["task"], r["title"], str(r["n"])]
        cells += [f"{r[f'share {s}']:.0%}" for s in STATUSES]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                    + "</tr>")
    students = sorted({s.student for s in report.submissions})
    links = "".join(f'<li><a href="feedback/{html.escape(_safe_name(s))}.html">'
                    f"{html.escape(s)}</a></li>" for s in students)
    problems = "".join(f"<li><code>{html.escape(p.path)}</code>: {html.escape(p.message)}</li>"
                       for p in report.problems)
    body = (f"<h1>Class summary</h1><p>{len(report.submissions)} notebook(s) of "
            f"{len(students)} student(s) graded.</p>"
            f'<img src="summary.png" alt="share correct per task" style="max-width:100%">'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<h2>Students</h2><ul>{links}</ul>"
            + (f"<h2>Not graded</h2><ul>{problems}</ul>" if problems else ""))
    return _PAGE.format(title="Class summary", body=body)


def write_report(report: GradeReport, executed: dict | None = None) -> None:
    """Write grades.csv, the feedback pages and the class summary into ``report.out``."""
    out = report.out
    grades = _rows(report)
    grades.to_csv(out / "grades.csv", index=False)
    summary = _summary(grades)
    summary.to_csv(out / "summary.csv", index=False)
    _figure(summary, out / "summary.png")
    (out / "summary.html").write_text(_summary_page(summary, report), encoding="utf-8")
    pages = out / "feedback"
    pages.mkdir(exist_ok=True)
    by_student: dict[str, list[Submission]] = {}
    for sub in report.submissions:
        by_student.setdefault(sub.student, []).append(sub)
    for student, subs in by_student.items():
        (pages / f"{_safe_name(student)}.html").write_text(_student_page(student, subs),
                                                           encoding="utf-8")
    if executed:
        (out / "executed").mkdir(exist_ok=True)
        for sub in report.submissions:
            nb = executed.get(id(sub))
            if nb is not None:
                name = f"{_safe_name(sub.student)}--{sub.exercise.name}.ipynb"
                nbformat.write(copy.deepcopy(nb), out / "executed" / name)
    if report.problems:
        (out / "not-graded.txt").write_text(
            "".join(f"{p.path}: {p.message}\n" for p in report.problems), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path,
                        help="folder with one notebook per student (NAME.ipynb, or a folder "
                             "NAME/ holding the notebook)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for grades.csv, the feedback pages and the summary")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run at the same time (default 1)")
    parser.add_argument("--cell-timeout", type=float, default=120,
                        help="seconds a cell may run before it is interrupted (default 120)")
    parser.add_argument("--timeout", type=float, default=900, dest="notebook_timeout",
                        help="seconds a whole notebook may run (default 900)")
    parser.add_argument("--exercises", type=Path, default=None,
                        help="folder of the exercise sources (default: the course's)")


def run(args: argparse.Namespace) -> int:
    try:
        report = grade(args.submissions, args.out, jobs=args.jobs,
                       cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                       exercises_dir=args.exercises)
    except GradeInputError as err:
        print(f"glmmteach grade: {err}", file=sys.stderr)
        return 2
    print(f"wrote {report.out / 'grades.csv'}, {report.out / 'summary.html'} and "
          f"{len(report.submissions)} feedback page(s) in {report.out / 'feedback'}")
    if report.problems:
        print(f"{len(report.problems)} input(s) not graded: see {report.out / 'not-graded.txt'}",
              file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glmmteach grade",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
