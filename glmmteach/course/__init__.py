"""What the lessons and exercises use on top of the library: lesson figures (``plots``),
interactive explorers (``widgets``), power analysis by simulation (``power``), the lessons'
simulation studies (``studies``) and the exercise checkers (``exercises``); and the
instructor's ``glmmteach`` command (``cli``) with its parts: the grader (``grade``), the Voila
demos (``demos``), the static HTML build (``build_html``), the student copies
(``student_copies``), notebook helpers (``notebooks``) and the setup check (``setup_check``).

The top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing in the library imports ``course``.
"""
