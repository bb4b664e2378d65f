"""Check a machine's setup for the course: Python, packages, widgets, and the optional tools.

Usage::

    glmmteach check-setup

Reports, one line each:

* the Python version (3.10 or newer is required);
* every package glmmteach needs, with its installed version, against pyproject's requirement;
* whether JupyterLab loads the widget extension (``@jupyter-widgets/jupyterlab-manager``),
  without which the lessons' sliders show as text;
* whether the course notebooks are found (checkout or packaged);
* optional, for the tests that skip without them: ``Rscript`` with lme4, glmmTMB, HSAUR3 and
  mlmRev (the cross-checks against R), Debian's ``chromium`` with the ``playwright``
  package (the real-browser tests), the ``instructor`` extra (voila,
  jupyter-server-mathjax), the ``cluster`` extra (dask, distributed) and the ``dev`` extra
  (pytest, nbval, ruff, ...).

The exit status is 1 when a required item fails, 0 otherwise (optional items only warn).

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["checks", "add_arguments", "run", "main"]

CHROMIUM = Path("/usr/bin/chromium")


def _requirement(text: str):
    """(name, specifier, extra) of a requirement string from the package metadata."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging is nearly always there (pip, jupyter need it)
        name = re.split(r"[<>=!~;\[ ]", text, maxsplit=1)[0]
        extra = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", text)
        return name, None, extra.group(1) if extra else None
    req = Requirement(text)
    extra = None
    if req.marker is not None:
        found = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", str(req.marker))
        extra = found.group(1) if found else None
    return req.name, req.specifier, extra


def _package_lines(requirements: list[str]) -> dict[str | None, list[tuple[bool, str]]]:
    out: dict[str | None, list[tuple[bool, str]]] = {}
    for text in requirements:
        name, spec, extra = _requirement(text)
        try:
            version = md.version(name)
        except md.PackageNotFoundError:
            out.setdefault(extra, []).append((False, f"{name}: not installed"))
            continue
        ok = spec is None or spec.contains(version, prereleases=True)
        want = f" (needs {spec})" if spec else ""
        out.setdefault(extra, []).append((ok, f"{name} {version}{'' if ok else want}"))
    return out


def _widget_extension() -> tuple[bool, str]:
    try:
        proc = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"jupyter labextension list failed: {err}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # no colour codes
    for line in text.splitlines():
        if "@jupyter-widgets/jupyterlab-manager" in line:
            ok = "enabled" in line and "OK" in line
            return ok, "widget extension: " + " ".join(line.split())
    return False, ("widget extension @jupyter-widgets/jupyterlab-manager not found: "
                   "pip install ipywidgets")


# the R packages the optional tests use, and the Debian package of each
_R_PACKAGES = {"lme4": "r-cran-lme4", "glmmTMB": "r-cran-glmmtmb", "HSAUR3": "r-cran-hsaur3",
               "mlmRev": "r-cran-mlmrev"}


def _rscript() -> tuple[bool, str]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return False, ("Rscript: not found (optional: the cross-checks against lme4 are "
                       "skipped; apt-get install -y r-base-core "
                       + " ".join(_R_PACKAGES.values()) + ")")
    code = ("for (p in c(" + ", ".join(f'"{p}"' for p in _R_PACKAGES) + ")) cat(p, "
            "if (requireNamespace(p, quietly = TRUE)) as.character(packageVersion(p)) "
            "else 'missing', '\\n')")
    try:
        proc = subprocess.run([rscript, "-e", code], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"Rscript {rscript}: could not run ({err})"
    found = dict(line.split()[:2] for line in proc.stdout.splitlines() if len(line.split()) >= 2)
    missing = [p for p in _R_PACKAGES if found.get(p, "missing") == "missing"]
    have = ", ".join(f"{p} {found[p]}" for p in _R_PACKAGES if p not in missing)
    if "lme4" in missing:
        return False, (f"Rscript {rscript}: lme4 is not installed (apt-get install "
                       + " ".join(_R_PACKAGES[p] for p in missing) + ")")
    if missing:
        return False, (f"Rscript {rscript} with {have}; missing {', '.join(missing)} (the tests "
                       "that need them are skipped; apt-get install "
                       + " ".join(_R_PACKAGES[p] for p in missing) + ")")
    return True, f"Rscript {rscript} with {have}"


def _chromium() -> tuple[bool, str]:
    if not CHROMIUM.exists():
        return False, (f"chromium: not at {CHROMIUM} (optional: the browser tests are skipped; "
                       f"apt-get install -y chromium)")
    try:
        md.version("playwright")
    except md.PackageNotFoundError:
        return False, f"chromium at {CHROMIUM}, but the playwright package is missing"
    return True, f"chromium at {CHROMIUM} with playwright {md.version('playwright')}"


def checks() -> list[tuple[str, bool, str]]:
    """(kind, ok, text) for every item; kind is "required" or "optional"."""
    rows = []
    ok = sys.version_info >= (3, 10)
    rows.append(("required", ok, f"Python {sys.version.split()[0]} at {sys.executable}"
                 + ("" if ok else " (needs 3.10 or newer)")))
    try:
        requirements = md.requires("glmmteach") or []
        rows.append(("required", True, f"glmmteach {md.version('glmmteach')}"))
    except md.PackageNotFoundError:
        requirements = []
        rows.append(("required", False, "glmmteach is not installed as a package: "
                                        "pip install -e .[dev] in the checkout"))
    packages = _package_lines(requirements)
    for ok, text in packages.get(None, []):
        rows.append(("required", ok, text))
    for extra in ("instructor", "cluster", "dev"):
        for ok, text in packages.get(extra, []):
            rows.append(("optional", ok, f"[{extra}] {text}"))
    rows.append(("required", *_widget_extension()))
    from glmmteach.course.notebooks import CourseNotFoundError, checkout_root, course_root

    try:
        root = course_root()
        where = "checkout" if root == checkout_root() else "packaged"
        rows.append(("required", True, f"course notebooks ({where}): {root}"))
    except CourseNotFoundError as err:
        rows.append(("required", False, str(err)))
    rows.append(("optional", *_rscript()))
    rows.append(("optional", *_chromium()))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace | None = None) -> int:
    failed = False
    for kind, ok, text in checks():
        mark = "ok  " if ok else ("FAIL" if kind == "required" else "--  ")
        print(f"{mark} {text}")
        failed |= kind == "required" and not ok
    print("setup incomplete: fix the FAIL lines (pip install -e .[dev] installs everything)"
          if failed else "setup ok (lines marked -- are optional)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glmmteach check-setup",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
