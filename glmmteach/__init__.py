"""glmmteach: a course on binomial generalized linear mixed models, with its own fitter.

Public API
----------
glmer, anova, binomial
    Fit binomial GLMMs by maximum likelihood (Laplace or adaptive Gauss-Hermite), compare
    nested models.
confint, bootstrap, model_equation
    Profile-likelihood, Wald and bootstrap intervals (``m.profile()`` for the profiles);
    the fitted model as an equation.
interpret, checks
    Odds ratios and probabilities; simulation-based model checks.
datasets
    The article's data (``datasets.vegetables()``).
simulate
    Data generators for the repeated-binary design (probability and logit scale).
rcompat
    R's random number generators, bit for bit (``rcompat.RRandom``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = ["glmer", "anova", "binomial", "GlmerResult", "confint", "bootstrap",
           "model_equation", "datasets", "simulate", "rcompat", "__version__"]

_LAZY = {
    "glmer": ("glmmteach.fitting", "glmer"),
    "anova": ("glmmteach.inference", "anova"),
    "binomial": ("glmmteach.family", "binomial"),
    "GlmerResult": ("glmmteach.results", "GlmerResult"),
    "confint": ("glmmteach.intervals", "confint"),
    "bootstrap": ("glmmteach.intervals", "bootstrap"),
    "model_equation": ("glmmteach.equation", "model_equation"),
}
_SUBMODULES = {"datasets", "simulate", "rcompat", "widgets", "plots", "family", "formula",
               "design", "deviance", "pirls", "optimize", "results", "inference", "reterms",
               "profile", "intervals", "interpret", "equation", "checks", "checkplots",
               "lesson_widgets", "exercises", "power"}


def __getattr__(name: str):
    # Imports are lazy so that `import glmmteach` stays fast in lessons and widgets.
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"glmmteach.{name}")
    raise AttributeError(f"module 'glmmteach' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
