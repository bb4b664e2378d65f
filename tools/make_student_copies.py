"""Write the student copies of the exercises: a thin wrapper of ``glmmteach student-copies``.

The logic lives in :mod:`glmmteach.course.student_copies` (so the command works from a
wheel); ``python tools/make_student_copies.py --check`` exits 1 when a copy is out of date.
"""

import sys

from glmmteach.course.student_copies import (
    BEGIN,
    END,
    SOURCE_DIR,
    STUDENT_DIR,
    SolutionMarkerError,
    main,
    outdated,
    render,
    sources,
    strip_solutions,
    student_copy,
    write_all,
)

__all__ = ["BEGIN", "END", "SOURCE_DIR", "STUDENT_DIR", "SolutionMarkerError", "main",
           "outdated", "render", "sources", "strip_solutions", "student_copy", "write_all"]

if __name__ == "__main__":
    sys.exit(main())
