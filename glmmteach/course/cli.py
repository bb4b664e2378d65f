"""The ``glmmteach`` command: open the course, serve demos, build HTML, grade, test, check setup.

Usage::

    glmmteach lab [--folder DIR] [--dry-run]     # open the course in JupyterLab
    glmmteach demos [02 06 ...]                 # the lessons as Voilà pages (token printed)
    glmmteach html [--out DIR]                  # the static course, MathJax bundled
    glmmteach student-copies [--check]          # rewrite exercises/student/
    glmmteach grade SUBMISSIONS --out DIR       # grade a class's notebooks
    glmmteach test [PYTEST ARGS]                # ruff + pytest (what `make test` runs)
    glmmteach check-setup                       # Python, packages, widgets, R, chromium

Run from a checkout (a clone, installed with ``pip install -e .[dev]``), ``lab`` opens
``lessons/`` of the checkout. Installed from a wheel, it first copies the lessons and the
student copies of the exercises into a working folder (default ``./glmmteach-course``),
never overwriting a file the student edited, and opens that.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "lab_command", "test_command", "is_root"]

DEFAULT_FOLDER = "glmmteach-course"


def is_root() -> bool:
    """True when running as root (POSIX); JupyterLab then needs ``--allow-root``."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


# ----------------------------------------------------------------------------- lab


def lab_command(folder: Path, open_path: str = "lessons",
                extra: list[str] | None = None) -> list[str]:
    """The JupyterLab command line that opens ``folder/open_path`` (cwd: ``folder``)."""
    cmd = [sys.executable, "-m", "jupyterlab", open_path]
    if is_root():
        cmd.append("--allow-root")
    return cmd + list(extra or [])


def _lab(args: argparse.Namespace) -> int:
    from glmmteach.course.notebooks import CourseNotFoundError, checkout_root, copy_course

    extra = ["--no-browser"] if args.no_browser else []
    root = checkout_root()
    if root is not None and args.folder is None:
        folder = root
        print(f"the course checkout: {root}")
    else:
        folder = Path(args.folder or DEFAULT_FOLDER).resolve()
        try:
            report = copy_course(folder, dry_run=args.dry_run)
        except CourseNotFoundError as err:
            print(f"glmmteach lab: {err}", file=sys.stderr)
            return 1
        for line in report.lines(dry_run=args.dry_run):
            print(line)
    cmd = lab_command(folder, "lessons", extra)
    if args.dry_run:
        print(f"would open {folder / 'lessons'}")
        print(f"would run (in {folder}): {' '.join(cmd)}")
        return 0
    print(f"opening {folder / 'lessons'} in JupyterLab (Ctrl-C stops it)")
    try:
        return subprocess.call(cmd, cwd=folder)
    except KeyboardInterrupt:
        return 0


# ----------------------------------------------------------------------------- test


def test_command(extra: list[str] | None = None) -> list[list[str]]:
    """The commands of ``make test``: ruff, then pytest with nbval on tests/ and lessons/."""
    return [[sys.executable, "-m", "ruff", "check", "."],
            [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
             "--nbval-sanitize-with", "tests/nbval-sanitize.cfg", "tests", "lessons",
             *(extra or [])]]


def _test(args: argparse.Namespace) -> int:
    from glmmteach.course.notebooks import checkout_root

    root = checkout_root()
    if root is None or not (root / "tests").is_dir():
        print("glmmteach test: the tests live in the repository; run this from a checkout "
              "installed with pip install -e .[dev]", file=sys.stderr)
        return 2
    extra = [a for a in args.pytest_args if a != "--"]
    for cmd in test_command(extra):
        if args.dry_run:
            print(f"would run (in {root}): {' '.join(cmd)}")
            continue
        print("+ " + " ".join(cmd[2:] if cmd[0] == sys.executable else cmd), flush=True)
        code = subprocess.call(cmd, cwd=root)
        if code:
            return code
    return 0


# ----------------------------------------------------------------------------- subcommands


def _delegate(module: str):
    """Subcommand implemented in another module with add_arguments(parser) and run(args)."""
    mod = importlib.import_module(module)
    return mod.add_arguments, mod.run


_SUBCOMMANDS = {
    "lab": ("open the course in JupyterLab (from a wheel: copy it into a working folder "
            "first)", None),
    "demos": ("serve the lessons as Voilà pages (code hidden, widgets live; token required)",
              "glmmteach.course.demos"),
    "html": ("build the static HTML course with MathJax bundled (works offline)",
             "glmmteach.course.build_html"),
    "student-copies": ("write the student copies of the exercises (solutions removed)",
                       "glmmteach.course.student_copies"),
    "grade": ("grade a folder of students' exercise notebooks (NOT a sandbox: run it in a "
              "container or a throw-away account)", "glmmteach.course.grade"),
    "test": ("run the project's tests as `make test` does (ruff + pytest with nbval)", None),
    "check-setup": ("report Python, packages, the widget extension, R/lme4 and chromium",
                    "glmmteach.course.setup_check"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glmmteach", description="The glmmteach course: " + __doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, module) in _SUBCOMMANDS.items():
        doc = importlib.import_module(module).__doc__ if module else None
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == "lab":
            p.add_argument("--folder", type=Path, default=None,
                           help=f"working folder for the course when there is no checkout, "
                                f"or to use instead of it (default ./{DEFAULT_FOLDER})")
            p.add_argument("--dry-run", action="store_true",
                           help="only print what would be copied and opened")
            p.add_argument("--no-browser", action="store_true", help="do not open a browser")
            p.set_defaults(handler=_lab)
        elif name == "test":
            p.add_argument("--dry-run", action="store_true",
                           help="only print the commands")
            p.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARG",
                           help="more pytest arguments, e.g. -x -k grade (put -- before "
                                "the first one that starts with a dash if it is refused)")
            p.set_defaults(handler=_test)
        else:
            add, run = _delegate(module)
            add(p)
            p.set_defaults(handler=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if args.command != "test":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.pytest_args = list(args.pytest_args) + unknown
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
