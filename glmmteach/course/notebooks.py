"""Where the course's notebooks are, and copying them into a student's working folder.

The lessons (``lessons/NN-*.ipynb``) and exercises (``exercises/NN-*.ipynb`` with their
solutions, ``exercises/student/`` the copies to hand out) live in the repository. A wheel
carries them too: the build (``setup.py``) copies them into
``glmmteach/course/materials/`` inside the package. :func:`course_root` prefers the checkout
(an editable install or a clone) and falls back to the packaged copy, so every instructor tool
works the same from a clone and from a plain ``pip install glmmteach``.

:func:`copy_course` writes a working folder for ``glmmteach lab`` when there is no checkout.
It never overwrites a file the student has edited: a small manifest
(``.glmmteach-course.json``) records the checksum of every file as it was copied, so a file
that still has that checksum may be updated to a newer course version, and any other existing
file is left alone and reported.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CourseNotFoundError", "CopyReport", "checkout_root", "packaged_root",
           "course_root", "lessons", "exercise_sources", "student_copies", "copy_course",
           "NOTEBOOK_PATTERN", "MANIFEST_NAME"]

NOTEBOOK_PATTERN = "[0-9][0-9]-*.ipynb"
MANIFEST_NAME = ".glmmteach-course.json"
_PACKAGE_DIR = Path(__file__).resolve().parent
_PACKAGED = _PACKAGE_DIR / "materials"


class CourseNotFoundError(FileNotFoundError):
    """Neither a checkout nor the packaged notebooks were found."""


def _is_course(root: Path) -> bool:
    return (root / "lessons").is_dir() and (root / "exercises").is_dir() \
        and any((root / "lessons").glob(NOTEBOOK_PATTERN))


def checkout_root() -> Path | None:
    """The repository holding this package (a clone or an editable install), or None."""
    root = _PACKAGE_DIR.parents[1]
    if (root / "pyproject.toml").is_file() and _is_course(root):
        return root
    return None


def packaged_root() -> Path | None:
    """The notebooks shipped inside the installed package (a wheel install), or None."""
    return _PACKAGED if _is_course(_PACKAGED) else None


def course_root() -> Path:
    """The folder holding ``lessons/`` and ``exercises/``: the checkout, else the package."""
    root = checkout_root() or packaged_root()
    if root is None:
        raise CourseNotFoundError(
            "the course notebooks were not found: neither a glmmteach checkout (lessons/ and "
            "exercises/ beside pyproject.toml) nor the notebooks packaged in the wheel "
            f"({_PACKAGED}). Reinstall glmmteach from a wheel or clone the repository.")
    return root


def lessons(root: Path | None = None) -> list[Path]:
    """The lesson notebooks, in order."""
    return sorted(((root or course_root()) / "lessons").glob(NOTEBOOK_PATTERN))


def exercise_sources(root: Path | None = None) -> list[Path]:
    """The exercise notebooks with their solutions, in order."""
    return sorted(((root or course_root()) / "exercises").glob(NOTEBOOK_PATTERN))


def student_copies(root: Path | None = None) -> list[Path]:
    """The student copies of the exercises (solutions replaced by stubs), in order."""
    return sorted(((root or course_root()) / "exercises" / "student").glob(NOTEBOOK_PATTERN))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class CopyReport:
    """What :func:`copy_course` did (or, with ``dry_run``, would do) in the working folder."""

    folder: Path
    copied: list[Path] = field(default_factory=list)     # new files
    updated: list[Path] = field(default_factory=list)    # untouched copies of an older version
    unchanged: list[Path] = field(default_factory=list)  # already identical
    kept: list[Path] = field(default_factory=list)       # edited by the student: not touched

    def lines(self, dry_run: bool = False) -> list[str]:
        would = "would " if dry_run else ""
        out = []
        for verb, paths in (("copy", self.copied), ("update", self.updated)):
            out += [f"{would}{verb} {p}" for p in paths]
        if self.unchanged:
            out.append(f"{len(self.unchanged)} file(s) already up to date in {self.folder}")
        for p in self.kept:
            out.append(f"kept your edited {p} (not overwritten; delete or rename it to get a "
                       f"fresh copy)")
        return out


def copy_course(folder: Path, *, root: Path | None = None, dry_run: bool = False) -> CopyReport:
    """Copy the lessons and the student copies of the exercises into ``folder``.

    ``folder/lessons/NN-*.ipynb`` and ``folder/exercises/NN-*.ipynb`` (the student copies,
    without solutions). A file that exists and differs from the course is kept unless the
    manifest shows it is an untouched copy of an earlier course version. With ``dry_run``
    nothing is written.
    """
    root = root or course_root()
    folder = Path(folder)
    report = CopyReport(folder=folder)
    manifest_path = folder / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    plan = [(p, Path("lessons") / p.name) for p in lessons(root)]
    plan += [(p, Path("exercises") / p.name) for p in student_copies(root)]
    new_manifest = dict(manifest)
    for source, rel in plan:
        target = folder / rel
        key = rel.as_posix()
        wanted = _digest(source)
        if not target.exists():
            report.copied.append(target)
        else:
            have = _digest(target)
            if have == wanted:
                report.unchanged.append(target)
                new_manifest[key] = wanted
                continue
            if manifest.get(key) == have:  # our own earlier copy, never edited
                report.updated.append(target)
            else:
                report.kept.append(target)
                continue
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        new_manifest[key] = wanted
    if not dry_run and new_manifest != manifest:
        folder.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(new_manifest, indent=1, sort_keys=True) + "\n",
                                 encoding="utf-8")
    return report
