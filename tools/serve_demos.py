"""Serve the lessons as standalone Voilà pages: widgets live, code hidden (for a projector).

Usage::

    python tools/serve_demos.py                  # all lessons, http://127.0.0.1:8866/
    python tools/serve_demos.py 02 06            # only lessons 02 and 06
    python tools/serve_demos.py --port 9000 --no-browser

Voilà runs each notebook in its own kernel when its page is opened, shows the Markdown and
the outputs but not the code, and keeps the widgets connected to the kernel, so the sliders
of the lessons work as in JupyterLab. Opening a lesson takes as long as running it (lesson
06's power analysis: about half a minute); open the pages before the class starts.

The lessons are served from a temporary folder holding copies of the chosen notebooks, so
nothing is written into the repository. Stop the server with Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"


def lessons(selection: list[str] | None = None) -> list[Path]:
    """Lesson notebooks, all or those whose number or name starts with a selection item."""
    found = sorted(LESSONS.glob("[0-9][0-9]-*.ipynb"))
    if not selection:
        return found
    chosen = [p for p in found if any(p.stem.startswith(s) for s in selection)]
    missing = [s for s in selection if not any(p.stem.startswith(s) for p in found)]
    if missing:
        raise SystemExit(f"no lesson matches {missing}; lessons: {[p.stem for p in found]}")
    return chosen


def voila_command(target: Path, *, port: int = 8866, ip: str = "127.0.0.1",
                  token: str | None = None, open_browser: bool = True) -> list[str]:
    """The ``voila`` command line serving ``target`` (a notebook or a folder of notebooks)."""
    cmd = [sys.executable, "-m", "voila", str(target), f"--port={port}", f"--Voila.ip={ip}",
           "--VoilaConfiguration.strip_sources=True",
           "--VoilaConfiguration.show_tracebacks=True"]
    if token:
        cmd.append(f"--Voila.token={token}")
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 to reach it from other machines)")
    parser.add_argument("--token", default=None, help="require this token in the URL")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    if shutil.which("voila") is None:
        try:
            import voila  # noqa: F401
        except ImportError:
            print("Voilà is not installed: pip install voila (it is part of the dev extras: "
                  "pip install -e '.[dev]')", file=sys.stderr)
            return 1
    chosen = lessons(args.lessons)
    with tempfile.TemporaryDirectory(prefix="glmmteach-demos-") as tmp:
        for path in chosen:
            shutil.copy2(path, Path(tmp) / path.name)
        target = Path(tmp) / chosen[0].name if len(chosen) == 1 else Path(tmp)
        cmd = voila_command(target, port=args.port, ip=args.ip, token=args.token,
                            open_browser=not args.no_browser)
        url = f"http://{args.ip}:{args.port}/" + (f"?token={args.token}" if args.token else "")
        print(f"serving {', '.join(p.stem for p in chosen)} at {url} (Ctrl-C stops)",
              file=sys.stderr)
        proc = subprocess.Popen(cmd, cwd=tmp)

        def stop(signum, _frame):  # pass a termination on to Voilà (it stops its kernels)
            proc.send_signal(signum)

        signal.signal(signal.SIGTERM, stop)
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reaches Voilà too; wait for it to finish
            return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
