"""Build a static HTML version of the whole course, with an index page and a table of contents.

Usage::

    glmmteach html                               # -> build/html/index.html
    glmmteach html --out site --execute --solutions

(``python tools/build_html.py`` in a checkout does the same.)

Each lesson ``lessons/NN-*.ipynb`` becomes ``lessons/NN-*.html`` (nbconvert's "lab"
template) with its stored outputs; ``--execute`` runs the notebooks first (in a temporary
memory; the repository is never written). Each exercise becomes ``exercises/NN-*.html``: the
student copies from ``exercises/student/`` by default, the sources with their solutions
with ``--solutions``. ``index.html`` lists the lessons in order, each with its learning
goals' title, its sections (linked to the headings' anchors in the lesson page) and its
exercise.

Widgets appear as stored snapshots (sliders do not move in static HTML; use
``glmmteach demos`` for live widgets). MathJax comes with the site: it is copied from the
``jupyter-server-mathjax`` package into ``mathjax/`` beside ``index.html``, so the formulas
render with no network connection (``--cdn-mathjax`` loads it from a CDN instead, for a
smaller site). Only the widget snapshots' renderer is still loaded from a CDN; the text,
formulas, tables and figures need no network.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import argparse
import html
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from glmmteach.course.notebooks import checkout_root, course_root

PATTERN = "[0-9][0-9]-*.ipynb"
# nbconvert's default configuration of MathJax 2.7, with the script taken from the site
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_DIR = "mathjax"


class MathJaxNotFoundError(FileNotFoundError):
    """The jupyter-server-mathjax package that provides the offline MathJax is missing."""


def mathjax_source() -> Path:
    """The folder holding ``MathJax.js`` in the ``jupyter-server-mathjax`` package."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise MathJaxNotFoundError(
            "the offline HTML course needs MathJax from the package jupyter-server-mathjax: "
            "pip install jupyter-server-mathjax (it is in the dev extras), or build with "
            "--cdn-mathjax to load MathJax from the network") from None
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():
        raise MathJaxNotFoundError(f"MathJax.js is missing from {static}; reinstall "
                                   f"jupyter-server-mathjax")
    return static


def bundle_mathjax(out: Path) -> Path:
    """Copy MathJax into ``out/mathjax`` (once) and return the folder."""
    target = out / MATHJAX_DIR
    if not (target / "MathJax.js").is_file():
        shutil.copytree(mathjax_source(), target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    return target


class _Headings(HTMLParser):
    """Collect ``(level, id, text)`` of the h1/h2 headings of an nbconvert page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[int, str, str]] = []
        self._current: list | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2") and attrs.get("id"):
            self._current = [int(tag[1]), attrs["id"], []]
        elif self._current is not None and tag == "a" and "anchor-link" in (attrs.get("class")
                                                                            or ""):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "a" and self._skip:
            self._skip -= 1
        elif tag in ("h1", "h2") and self._current is not None:
            level, ident, parts = self._current
            self.found.append((level, ident, " ".join("".join(parts).split())))
            self._current = None

    def handle_data(self, data):
        if self._current is not None and not self._skip:
            self._current[2].append(data)


def headings(page: str) -> list[tuple[int, str, str]]:
    """The h1/h2 headings of an HTML page as ``(level, id, text)``."""
    parser = _Headings()
    parser.feed(page)
    return parser.found


def convert(path: Path, execute: bool = False, mathjax_url: str | None = None) -> str:
    """One notebook as a standalone HTML page (``mathjax_url``: where MathJax.js is)."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    if execute:
        from nbclient import NotebookClient

        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    exporter = HTMLExporter(template_name="lab")
    if mathjax_url is not None:
        exporter.mathjax_url = mathjax_url
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    return body


def _index(entries: list[dict], solutions: bool) -> str:
    rows = []
    for e in entries:
        if e.get("orphan"):
            continue
        sections = "".join(
            f'<li><a href="{html.escape(e["href"])}#{html.escape(ident, quote=True)}">'
            f"{html.escape(text)}</a></li>" for level, ident, text in e["headings"]
            if level == 2)
        exercise = (f'<a href="{html.escape(e["exercise"])}">exercise {e["number"]}'
                    f'{" (with solutions)" if solutions else ""}</a>'
                    if e.get("exercise") else "no exercise")
        rows.append(
            f'<tr><td class="num">{e["number"]}</td><td><a class="lesson" '
            f'href="{html.escape(e["href"])}">{html.escape(e["title"])}</a>'
            f'<ol class="sections">{sections}</ol></td><td>{exercise}</td></tr>')
    extra = "".join(f'<li><a href="{html.escape(x["href"])}">{html.escape(x["title"])}</a></li>'
                    for x in entries if x.get("orphan"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>glmmteach: binomial GLMMs in Python</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .6rem .5rem; vertical-align: top;
         text-align: left; }}
td.num {{ font-weight: bold; width: 2.5rem; }}
a.lesson {{ font-weight: 600; }}
ol.sections {{ margin: .3rem 0 0 1rem; padding: 0; font-size: .92rem; }}
footer {{ margin-top: 2rem; font-size: .85rem; color: #555; }}
</style></head>
<body>
<h1 id="contents">glmmteach: binomial GLMMs in Python</h1>
<p>A course on binomial generalized linear mixed models, following Clay Ford's
<em>Getting Started with Binomial Generalized Linear Mixed Models</em> (UVA Library StatLab,
2021) in Python. Static pages: the widgets are snapshots; run the notebooks in JupyterLab
(<code>glmmteach lab</code>) or serve the demos with Voil&agrave;
(<code>glmmteach demos</code>) to move the sliders.</p>
<h2 id="lessons">Table of contents</h2>
<table><thead><tr><th>#</th><th>Lesson and its sections</th><th>Exercise</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
{f"<h2>Other exercises</h2><ul>{extra}</ul>" if extra else ""}
<footer>Lesson and exercise text &copy; the glmmteach developers, CC BY 4.0; code MIT.
</footer>
</body></html>
"""


def build(out: Path, execute: bool = False, solutions: bool = False,
          lessons_dir: Path | None = None, exercises_dir: Path | None = None,
          offline_mathjax: bool = True) -> Path:
    """Write the site into ``out`` and return the path of ``index.html``.

    With ``offline_mathjax`` (the default) MathJax is copied into ``out/mathjax`` and the
    pages load it from there; otherwise from nbconvert's CDN address.
    """
    lessons_dir = Path(lessons_dir) if lessons_dir is not None else course_root() / "lessons"
    exercises_dir = (Path(exercises_dir) if exercises_dir is not None
                     else course_root() / "exercises")
    mathjax_url = None
    if offline_mathjax:
        bundle_mathjax(out)
        mathjax_url = f"../{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"
    exercise_src = exercises_dir if solutions else exercises_dir / "student"
    (out / "lessons").mkdir(parents=True, exist_ok=True)
    (out / "exercises").mkdir(parents=True, exist_ok=True)
    exercises = {p.name[:2]: p for p in sorted(exercise_src.glob(PATTERN))}
    entries = []
    for path in sorted(lessons_dir.glob(PATTERN)):
        page = convert(path, execute=execute, mathjax_url=mathjax_url)
        target = out / "lessons" / f"{path.stem}.html"
        target.write_text(page, encoding="utf-8")
        found = headings(page)
        title = next((text for level, _, text in found if level == 1), path.stem)
        entry = {"number": path.name[:2], "title": title, "headings": found,
                 "href": f"lessons/{target.name}"}
        ex = exercises.pop(path.name[:2], None)
        if ex is not None:
            ex_target = out / "exercises" / f"{ex.stem}.html"
            ex_target.write_text(convert(ex, execute=execute and solutions,
                                         mathjax_url=mathjax_url), encoding="utf-8")
            entry["exercise"] = f"exercises/{ex_target.name}"
        entries.append(entry)
        print(f"  {target.relative_to(out)}", file=sys.stderr)
    for ex in exercises.values():  # exercises whose lesson does not exist (yet)
        ex_target = out / "exercises" / f"{ex.stem}.html"
        ex_target.write_text(convert(ex, execute=execute and solutions,
                                         mathjax_url=mathjax_url), encoding="utf-8")
        entries.append({"number": ex.name[:2], "title": f"Exercise {ex.stem}",
                        "headings": [], "href": f"exercises/{ex_target.name}", "orphan": True})
    index = out / "index.html"
    index.write_text(_index(entries, solutions), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glmmteach html",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _default_out() -> Path:
    root = checkout_root()
    return (root / "build" / "html") if root is not None else Path("glmmteach-html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: build/html in a checkout, "
                             "./glmmteach-html otherwise)")
    parser.add_argument("--execute", action="store_true",
                        help="run the notebooks before converting (default: stored outputs)")
    parser.add_argument("--solutions", action="store_true",
                        help="publish the exercises with their solutions")
    parser.add_argument("--clean", action="store_true", help="empty the output directory first")
    parser.add_argument("--cdn-mathjax", action="store_true",
                        help="load MathJax from a CDN (formulas then need a network) instead "
                             "of bundling it")


def run(args: argparse.Namespace) -> int:
    out = args.out or _default_out()
    if args.clean and out.exists():
        shutil.rmtree(out)
    try:
        index = build(out, execute=args.execute, solutions=args.solutions,
                      offline_mathjax=not args.cdn_mathjax)
    except MathJaxNotFoundError as err:
        print(f"glmmteach html: {err}", file=sys.stderr)
        return 1
    print(f"wrote {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
