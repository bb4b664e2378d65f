"""Write the student copies of the exercise notebooks (solutions replaced by stubs).

Usage::

    glmmteach student-copies            # write exercises/student/NN-*.ipynb
    glmmteach student-copies --check    # exit 1 if a committed copy is out of date

(``python tools/make_student_copies.py`` in a checkout does the same.)

The sources ``exercises/NN-*.ipynb`` hold the solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers). Each student copy is the source with

* every marked block in a code cell replaced by ``# YOUR CODE HERE`` and a
  ``raise NotImplementedError(...)`` line naming the task (same indentation), and the cell
  tagged ``raises-exception`` so that "Run All" carries on past it (JupyterLab and nbclient
  honour that tag) and every check cell can report "not attempted yet";
* every marked block in a Markdown cell replaced by ``*YOUR ANSWER HERE*``;
* all outputs, execution counts and execution metadata removed, and the saved widget
  state dropped.

The sources are only read, never written. The output is deterministic (same source, same
bytes), so a test can compare the committed copies with freshly rendered ones.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from glmmteach.course.notebooks import checkout_root, packaged_root

ROOT = checkout_root() or packaged_root() or Path.cwd()
SOURCE_DIR = ROOT / "exercises"
STUDENT_DIR = SOURCE_DIR / "student"
SOURCE_PATTERN = "[0-9][0-9]-*.ipynb"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_TASK = re.compile(r"^#+\s*Task\s+(\w+)", re.MULTILINE)


class SolutionMarkerError(ValueError):
    """A ``### BEGIN SOLUTION`` without its ``### END SOLUTION`` (or the reverse)."""


def strip_solutions(text: str, stub: list[str], where: str) -> tuple[str, int]:
    """Replace each marked block of ``text`` by ``stub`` (indented like the marker).

    Returns the new text and the number of blocks replaced.
    """
    out: list[str] = []
    inside = False
    indent = ""
    blocks = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise SolutionMarkerError(f"{where}: nested {BEGIN!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in stub)
            blocks += 1
        elif stripped == END:
            if not inside:
                raise SolutionMarkerError(f"{where}: {END!r} without {BEGIN!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: {BEGIN!r} without {END!r}")
    return "\n".join(out), blocks


def student_copy(source: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of an exercise notebook (the input is not modified)."""
    nb = copy.deepcopy(source)
    task = None
    for k, cell in enumerate(nb.cells):
        where = f"{name}, cell {k}"
        if cell.cell_type == "markdown":
            found = _TASK.search(cell.source)
            if found:
                task = found.group(1)
            cell.source, _ = strip_solutions(cell.source, ["*YOUR ANSWER HERE*"], where)
            continue
        if cell.cell_type != "code":
            continue
        label = f"Task {task}" if task else "This task"
        stub = ["# YOUR CODE HERE",
                f'raise NotImplementedError("{label}: replace this line with your code, run '
                f'the cell, then run the check below")']
        cell.source, blocks = strip_solutions(cell.source, stub, where)
        tags = list(cell.metadata.get("tags", []))
        if blocks and "raises-exception" not in tags:
            tags.append("raises-exception")
        if tags:
            cell.metadata["tags"] = tags
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        cell.outputs = []
        cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nb.metadata["glmmteach"] = {"student_copy_of": f"exercises/{name}",
                                "generated_by": "tools/make_student_copies.py"}
    return nb


def render(source_path: Path) -> str:
    """The text of the student copy of ``source_path``."""
    source = nbformat.read(source_path, as_version=4)
    nb = student_copy(source, source_path.name)
    return nbformat.writes(nb) + "\n"


def sources(source_dir: Path = SOURCE_DIR) -> list[Path]:
    return sorted(source_dir.glob(SOURCE_PATTERN))


def outdated(source_dir: Path = SOURCE_DIR, student_dir: Path = STUDENT_DIR) -> list[str]:
    """Names of student copies that are missing, stale, or have no source."""
    bad = []
    wanted = {p.name: p for p in sources(source_dir)}
    for name, path in wanted.items():
        target = student_dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != render(path):
            bad.append(name)
    for extra in sorted(student_dir.glob(SOURCE_PATTERN)):
        if extra.name not in wanted:
            bad.append(f"{extra.name} (no source)")
    return bad


def write_all(source_dir: Path = SOURCE_DIR, student_dir: Path = STUDENT_DIR) -> list[Path]:
    student_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources(source_dir):
        target = student_dir / path.name
        text = render(path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glmmteach student-copies",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="only report copies that are out of date (exit status 1)")
    parser.add_argument("--source-dir", type=Path, default=SOURCE_DIR)
    parser.add_argument("--student-dir", type=Path, default=None)


def run(args: argparse.Namespace) -> int:
    student_dir = args.student_dir or args.source_dir / "student"
    if not sources(args.source_dir):
        print(f"no exercise notebooks ({SOURCE_PATTERN}) in {args.source_dir}", file=sys.stderr)
        return 1
    if args.check:
        bad = outdated(args.source_dir, student_dir)
        for name in bad:
            print(f"out of date: {student_dir / name}")
        if bad:
            print("run: glmmteach student-copies (or python tools/make_student_copies.py)",
                  file=sys.stderr)
        return 1 if bad else 0
    for path in write_all(args.source_dir, student_dir):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
