"""The fitter, one stage per module, each testable alone.

``formula`` (lme4 syntax -> terms) -> ``design`` (X, response, grouping factors; with
``factors`` for R's level order and ``evaluate`` for the restricted expression evaluator)
-> ``reterms`` (Z, Lambda(theta), the factorization of Lambda'Z'WZLambda + I) -> ``family``
(links, weights, exact log-likelihood) -> ``pirls`` (conditional modes) -> ``deviance``
(Laplace / AGQ / nAGQ = 0 objective closures with exact gradients) -> ``optimize`` (the
optimizers and convergence checks; ``control`` holds their options, ``glmer_control``) ->
``fit`` (``glmer`` and the ``GlmerModel`` object) ->
``results`` (``GlmerResult``) and ``summary`` (lme4's printed layout).

Imports only ``glmmteach._util``, ``glmmteach.warnings`` and ``glmmteach.rcompat`` from outside
this package; never ``inference``, ``diagnostics`` or ``course``.
"""
