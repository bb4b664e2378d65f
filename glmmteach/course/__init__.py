"""What the lessons and exercises use on top of the library: lesson figures (``plots``),
interactive explorers (``widgets``), power analysis by simulation (``power``) and the
exercise checkers (``exercises``).

The top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing in the library imports ``course``.
"""
