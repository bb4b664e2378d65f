"""Serve the lessons as standalone Voilà pages: widgets live, code hidden (for a projector).

Usage::

    glmmteach demos                      # all lessons, http://127.0.0.1:8866/?token=...
    glmmteach demos 02 06                # only lessons 02 and 06
    glmmteach demos --port 9000 --no-browser

Voilà runs each notebook in its own kernel when its page is opened, shows the Markdown and
the outputs but not the code, and keeps the widgets connected to the kernel, so the sliders
of the lessons work as in JupyterLab. Opening a lesson takes as long as running it (lesson
06's power analysis: about half a minute); open the pages before the class starts.

Security: whoever can open a page can run code in its kernel. So the server

* requires a token, a random one unless ``--token`` gives one; the URL printed at the start
  carries it;
* listens on this machine only (127.0.0.1) unless ``--ip`` names another address *and*
  ``--allow-remote`` is given (for a classroom network; a token is then always required,
  ``--no-token`` is refused);
* hides Python tracebacks from the pages unless ``--debug``.

The lessons are served from a temporary folder holding copies of the chosen notebooks, so
nothing is written into the course folder. Stop the server with Ctrl-C.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["lessons", "voila_command", "is_loopback", "demo_url", "add_arguments", "run",
           "main"]


def lessons(selection: list[str] | None = None, root: Path | None = None) -> list[Path]:
    """Lesson notebooks, all or those whose number or name starts with a selection item."""
    from glmmteach.course.notebooks import lessons as all_lessons

    found = all_lessons(root)
    if not selection:
        return found
    chosen = [p for p in found if any(p.stem.startswith(s) for s in selection)]
    missing = [s for s in selection if not any(p.stem.startswith(s) for p in found)]
    if missing:
        raise SystemExit(f"no lesson matches {missing}; lessons: {[p.stem for p in found]}")
    return chosen


def is_loopback(ip: str) -> bool:
    """True for an address that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def voila_command(target: Path, *, token: str, port: int = 8866, ip: str = "127.0.0.1",
                  open_browser: bool = True, debug: bool = False,
                  allow_remote: bool = False) -> list[str]:
    """The ``voila`` command line serving ``target`` (a notebook or a folder of notebooks).

    ``token`` is required (an empty token is refused: anyone who reaches the server could
    run code in its kernels). A non-loopback ``ip`` needs ``allow_remote=True``. Tracebacks
    are shown on the pages only with ``debug=True``.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("token must be a non-empty string: a Voilà server without a token "
                         "lets anyone who reaches it run code")
    if not is_loopback(ip) and not allow_remote:
        raise ValueError(f"ip={ip!r} is reachable from other machines; pass "
                         f"allow_remote=True (--allow-remote) to listen there")
    return [sys.executable, "-m", "voila", str(target), f"--port={port}", f"--Voila.ip={ip}",
            f"--Voila.token={token}", "--VoilaConfiguration.strip_sources=True",
            f"--VoilaConfiguration.show_tracebacks={bool(debug)}"] \
        + ([] if open_browser else ["--no-browser"])


def demo_url(ip: str, port: int, token: str) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}/?token={token}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1, this machine only; "
                             "any other address needs --allow-remote)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow an --ip that other machines can reach (a token is then "
                             "always required)")
    parser.add_argument("--token", default=None,
                        help="the token the URL must carry (default: a random one, printed)")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks on the pages")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


def run(args: argparse.Namespace) -> int:
    if not is_loopback(args.ip) and not args.allow_remote:
        print(f"glmmteach demos: --ip {args.ip} can be reached from other machines, and whoever "
              f"opens a page can run code in its kernel. Add --allow-remote to listen there "
              f"(with a token, printed below).", file=sys.stderr)
        return 2
    if args.token is not None and not args.token.strip():
        print("glmmteach demos: an empty --token is refused (it would let anyone run code); "
              "leave --token out to get a random one", file=sys.stderr)
        return 2
    token = args.token or secrets.token_urlsafe(24)
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
        cmd = voila_command(target, token=token, port=args.port, ip=args.ip,
                            open_browser=not args.no_browser, debug=args.debug,
                            allow_remote=args.allow_remote)
        print(f"serving {', '.join(p.stem for p in chosen)} at "
              f"{demo_url(args.ip, args.port, token)} (Ctrl-C stops)", file=sys.stderr)
        if not is_loopback(args.ip):
            print("warning: listening beyond this machine; share the URL (with its token) only "
                  "with the class", file=sys.stderr)
        proc = subprocess.Popen(cmd, cwd=tmp)

        def stop(signum, _frame):  # pass a termination on to Voilà (it stops its kernels)
            proc.send_signal(signum)

        signal.signal(signal.SIGTERM, stop)
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reaches Voilà too; wait for it to finish
            return proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glmmteach demos",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
