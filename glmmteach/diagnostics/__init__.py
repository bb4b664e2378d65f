"""Model checking by simulation: predictive checks, randomized quantile (scaled) residuals,
binned residuals and their tests (``checks``), and their figures (``plots``).

Imports ``glmmteach.model``, ``glmmteach.inference`` and ``glmmteach._util``; never ``course``.
"""
