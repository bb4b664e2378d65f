"""Inference on a fitted model: parameters and their names (``params``), likelihood profiles
(``profile``), profile / Wald / bootstrap intervals (``intervals``), likelihood-ratio tests
(``lrt``), odds ratios and probabilities (``interpret``), population-averaged probabilities
(``marginal``), the GEE contrast fit (``gee``) and the model written as an equation
(``equation``).

Imports ``glmmteach.model`` and ``glmmteach._util``; never ``diagnostics`` or ``course``.
"""
