"""The ``glmmteach`` command line: every subcommand's help, ``lab``'s copying and dry run,
``test`` running what ``make test`` runs, ``check-setup``, and the wheel carrying the
notebooks so that the command works after a plain ``pip install``."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from glmmteach.course import cli, notebooks

ROOT = Path(__file__).resolve().parents[2]
SUBCOMMANDS = ["lab", "demos", "html", "student-copies", "grade", "test", "check-setup"]


def _run(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "glmmteach.course.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_the_console_script_is_declared_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\[project\.scripts\]\s*\n(?:#.*\n)*'
                     r'glmmteach = "glmmteach\.course\.cli:main"', text, re.MULTILINE)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: glmmteach {command}")
    assert "--help" in out


def test_top_level_help_lists_every_subcommand():
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    for command in SUBCOMMANDS:
        assert command in proc.stdout


def test_no_subcommand_is_a_usage_error():
    proc = _run()
    assert proc.returncode == 2
    assert "COMMAND" in proc.stderr


def test_lab_dry_run_from_the_checkout_opens_its_lessons(capsys):
    assert cli.main(["lab", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would open {ROOT / 'lessons'}" in out
    assert "-m jupyterlab lessons" in out
    assert ("--allow-root" in out) == cli.is_root()


def test_lab_dry_run_into_a_folder_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "course"
    assert cli.main(["lab", "--dry-run", "--folder", str(folder)]) == 0
    out = capsys.readouterr().out
    for lesson in notebooks.lessons():
        assert f"would copy {folder / 'lessons' / lesson.name}" in out
    for ex in notebooks.student_copies():
        assert f"would copy {folder / 'exercises' / ex.name}" in out
    assert f"would open {folder / 'lessons'}" in out
    assert not folder.exists()


def _fake_course(root: Path, text: str) -> Path:
    for sub in ("lessons", "exercises/student"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "lessons" / "01-a.ipynb").write_text(f"lesson {text}")
    (root / "lessons" / "02-b.ipynb").write_text("lesson two")
    (root / "exercises" / "01-a.ipynb").write_text("solution")
    (root / "exercises" / "student" / "01-a.ipynb").write_text(f"stub {text}")
    return root


def test_copy_course_never_overwrites_an_edited_file(tmp_path):
    course = _fake_course(tmp_path / "src", "v1")
    work = tmp_path / "work"
    first = notebooks.copy_course(work, root=course)
    assert sorted(p.relative_to(work).as_posix() for p in first.copied) == [
        "exercises/01-a.ipynb", "lessons/01-a.ipynb", "lessons/02-b.ipynb"]
    assert (work / "exercises" / "01-a.ipynb").read_text() == "stub v1"  # no solutions
    # the student edits the exercise; the course gets a new version of both files
    (work / "exercises" / "01-a.ipynb").write_text("my answers")
    _fake_course(course, "v2")
    second = notebooks.copy_course(work, root=course)
    assert second.kept == [work / "exercises" / "01-a.ipynb"]
    assert (work / "exercises" / "01-a.ipynb").read_text() == "my answers"
    assert second.updated == [work / "lessons" / "01-a.ipynb"]  # untouched: updated
    assert (work / "lessons" / "01-a.ipynb").read_text() == "lesson v2"
    assert second.unchanged == [work / "lessons" / "02-b.ipynb"]
    lines = second.lines()
    assert any("kept your edited" in line and "01-a.ipynb" in line and "not overwritten" in line
               for line in lines)


def test_lab_reports_kept_files(tmp_path, capsys):
    folder = tmp_path / "course"
    notebooks.copy_course(folder)
    edited = folder / "exercises" / notebooks.student_copies()[0].name
    edited.write_text("{}")
    assert cli.main(["lab", "--dry-run", "--folder", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"kept your edited {edited} (not overwritten" in out
    assert edited.read_text() == "{}"
    manifest = json.loads((folder / notebooks.MANIFEST_NAME).read_text())
    assert f"exercises/{edited.name}" in manifest


def test_test_subcommand_runs_what_make_test_runs(capsys):
    assert cli.main(["test", "--dry-run", "-x"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("-m ruff check .")
    assert out[1].endswith("-m pytest --nbval --nbval-current-env --nbval-sanitize-with "
                           "tests/nbval-sanitize.cfg tests lessons -x")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\n\t\$\(BIN\)/glmmteach test\b", makefile, re.MULTILINE)
    assert re.search(r"^lab: .*\n\t\$\(BIN\)/glmmteach lab\b", makefile, re.MULTILINE)


def test_check_setup_reports_python_packages_and_optional_tools():
    proc = _run("check-setup", timeout=300)
    out = proc.stdout
    assert f"ok   Python {sys.version.split()[0]}" in out
    assert re.search(r"^ok   numpy \d", out, re.MULTILINE)
    assert "widget extension" in out
    assert "Rscript" in out and "chromium" in out
    assert proc.returncode == (1 if "FAIL" in out else 0)


# ----------------------------------------------------------------------------- the wheel


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the checkout (the build writes build/ in its tree)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info")
    for name in ("glmmteach", "lessons", "exercises"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(out), str(src)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "setuptools" in proc.stderr and "No matching" in proc.stderr:
        pytest.skip("pip could not fetch the build backend (setuptools>=77) from the index")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("glmmteach-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_the_notebooks_and_the_command(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    base = "glmmteach/course/materials"
    for lesson in notebooks.lessons(ROOT):
        assert f"{base}/lessons/{lesson.name}" in names
    for ex in notebooks.exercise_sources(ROOT):
        assert f"{base}/exercises/{ex.name}" in names
        assert f"{base}/exercises/student/{ex.name}" in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "[console_scripts]" in text and "glmmteach = glmmteach.course.cli:main" in text
    assert "glmmteach/course/cli.py" in names and "glmmteach/course/grade.py" in names


def test_lab_from_a_plain_install_copies_the_course(wheel, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(site), str(wheel)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = dict(os.environ, PYTHONPATH=str(site))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import glmmteach.course.notebooks as n; "
         "print(n.__file__); print(n.checkout_root()); print(n.course_root())"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    file, checkout, course = where.stdout.split()
    assert file.startswith(str(site)) and checkout == "None"
    assert course == str(site / "glmmteach" / "course" / "materials")
    dry = _run("lab", "--dry-run", cwd=cwd, env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"would copy {cwd / 'glmmteach-course' / 'lessons'}" in dry.stdout
    assert not (cwd / "glmmteach-course").exists()
    # a real copy (the server itself is not started: --dry-run after copying)
    copied = subprocess.run(
        [sys.executable, "-c", "from glmmteach.course.notebooks import copy_course; "
         "r = copy_course(__import__('pathlib').Path('glmmteach-course')); "
         "print(len(r.copied))"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    lessons = sorted((cwd / "glmmteach-course" / "lessons").glob("*.ipynb"))
    assert [p.name for p in lessons] == [p.name for p in notebooks.lessons(ROOT)]
    for ex in (cwd / "glmmteach-course" / "exercises").glob("*.ipynb"):
        assert "BEGIN SOLUTION" not in ex.read_text()  # the student copies, not the solutions
        nbformat.read(ex, as_version=4)
    assert int(copied.stdout) == len(lessons) + len(notebooks.student_copies(ROOT))
    test = _run("test", "--dry-run", cwd=cwd, env=env)
    assert test.returncode == 2 and "from a checkout" in test.stderr


def test_tools_scripts_are_thin_wrappers_of_the_package():
    for name, module in (("serve_demos", "glmmteach.course.demos"),
                         ("build_html", "glmmteach.course.build_html"),
                         ("make_student_copies", "glmmteach.course.student_copies")):
        spec = importlib.util.spec_from_file_location(f"_tool_{name}",
                                                      ROOT / "tools" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.main.__module__ == module
