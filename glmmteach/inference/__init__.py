"""Inference on a fitted model: likelihood profiles (``profile``), profile / Wald / bootstrap
intervals (``intervals``), likelihood-ratio tests (``lrt``), odds ratios and conditional and
population-averaged probabilities (``interpret``), the GEE contrast fit (``gee``) and the model
written as an equation (``equation``).

Imports ``glmmteach.model`` and ``glmmteach._util``; never ``diagnostics`` or ``course``.
"""
