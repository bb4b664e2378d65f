"""Build hook: put the course notebooks into the wheel (the rest is in pyproject.toml).

``lessons/`` and ``exercises/`` sit beside the package in the repository (the README, the
Makefile and the tests use those paths). A wheel copies them into
``glmmteach/course/materials/`` so that ``glmmteach lab``, ``html``, ``demos`` and ``grade``
work after a plain ``pip install``; ``glmmteach.course.notebooks`` finds either place. An
editable install (``pip install -e .``) uses the checkout and copies nothing.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ["lessons/[0-9][0-9]-*.ipynb", "exercises/[0-9][0-9]-*.ipynb",
             "exercises/student/[0-9][0-9]-*.ipynb"]


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "glmmteach" / "course" / "materials"
        found = 0
        for pattern in NOTEBOOKS:
            for path in sorted(HERE.glob(pattern)):
                dest = target / path.relative_to(HERE)
                dest.parent.mkdir(parents=True, exist_ok=True)
                self.copy_file(str(path), str(dest))
                found += 1
        if not found:
            raise RuntimeError("no course notebooks found to package (lessons/, exercises/)")


setup(cmdclass={"build_py": BuildWithNotebooks})
