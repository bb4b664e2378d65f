"""Serve the lessons as Voilà pages: a thin wrapper of ``glmmteach demos``.

The logic lives in :mod:`glmmteach.course.demos` (so the command works from a wheel);
``python tools/serve_demos.py --help`` lists the options.
"""

import sys

from glmmteach.course.demos import demo_url, is_loopback, lessons, main, voila_command

__all__ = ["demo_url", "is_loopback", "lessons", "main", "voila_command"]

if __name__ == "__main__":
    sys.exit(main())
