"""Build the static HTML course: a thin wrapper of ``glmmteach html``.

The logic (with MathJax bundled for offline reading) lives in
:mod:`glmmteach.course.build_html` so the command works from a wheel;
``python tools/build_html.py --help`` lists the options.
"""

import sys

from glmmteach.course.build_html import (
    MATHJAX_DIR,
    build,
    bundle_mathjax,
    convert,
    headings,
    main,
    mathjax_source,
)

__all__ = ["MATHJAX_DIR", "build", "bundle_mathjax", "convert", "headings", "main",
           "mathjax_source"]

if __name__ == "__main__":
    sys.exit(main())
