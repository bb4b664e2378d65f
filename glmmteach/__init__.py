"""glmmteach: a course on binomial generalized linear mixed models, with its own fitter.

Public API
----------
glmer, anova, binomial, glmer_control
    Fit binomial GLMMs by maximum likelihood (Laplace or adaptive Gauss-Hermite), compare
    nested models; ``glmer_control`` (a ``GlmerControl``) chooses optimizers, tolerances and
    what the convergence checks do (``ConvergenceError`` when one is set to ``"stop"``).
GlmerResult, GlmerModel
    A fitted model (what ``glmer`` returns) and the model before fitting (design, family,
    random-effects structure; ``GlmerModel.fit`` refits it).
confint, profile, bootstrap, model_equation
    Profile-likelihood, Wald and bootstrap intervals (``profile(m)`` for the profiles);
    the fitted model as an equation.
interpret, checks, studies (module aliases)
    Odds ratios and probabilities; simulation-based model checks; the lessons' simulation
    studies.
datasets
    The article's data (``datasets.vegetables()``) and two real studies
    (``datasets.toenail()``, ``datasets.contraception()``).
simulate
    Data generators for the repeated-binary design (probability and logit scale).
rcompat
    R's random number generators, bit for bit (``rcompat.RRandom``).
SingularFitWarning, ConvergenceWarning, ...
    The warning classes glmmteach emits (also in :mod:`glmmteach.warnings`).

Layout
------
``glmmteach.model`` (formula -> design -> reterms -> family -> pirls -> deviance -> optimize
-> fit -> results), ``glmmteach.inference`` (profiles, intervals, likelihood-ratio tests,
interpretation, the model equation), ``glmmteach.diagnostics`` (simulation-based checks),
``glmmteach.course`` (lesson figures, widgets, power analysis, exercise checkers, the
``glmmteach`` command). Imports run downwards only: course -> diagnostics / inference ->
model -> _util. The short names used in the lessons (``glmmteach.checks``,
``glmmteach.plots``, ``glmmteach.exercises``, ...) are aliases of those modules.
"""

from __future__ import annotations

import importlib

from glmmteach.warnings import (
    BootstrapWarning,
    ConvergenceWarning,
    GlmmteachWarning,
    GroupSeparationWarning,
    ImpossibleProbabilityWarning,
    NonIntegerSuccessesWarning,
    ProfileWarning,
    RankDeficientWarning,
    RCompatWarning,
    RowsDroppedWarning,
    SeparationWarning,
    SingularFitWarning,
)

__version__ = "0.1.0"

__all__ = ["glmer", "glmer_control", "GlmerControl", "ConvergenceError", "anova", "binomial",
           "GlmerResult", "GlmerModel", "confint", "bootstrap",
           "profile", "model_equation", "datasets", "simulate", "rcompat", "__version__",
           "GlmmteachWarning", "RowsDroppedWarning", "RankDeficientWarning",
           "SingularFitWarning", "ConvergenceWarning", "SeparationWarning",
           "ImpossibleProbabilityWarning", "RCompatWarning", "ProfileWarning",
           "BootstrapWarning", "NonIntegerSuccessesWarning", "GroupSeparationWarning"]

_LAZY = {
    "glmer": ("glmmteach.model.fit", "glmer"),
    "GlmerModel": ("glmmteach.model.fit", "GlmerModel"),
    "glmer_control": ("glmmteach.model.control", "glmer_control"),
    "GlmerControl": ("glmmteach.model.control", "GlmerControl"),
    "ConvergenceError": ("glmmteach.model.control", "ConvergenceError"),
    "anova": ("glmmteach.inference.lrt", "anova"),
    "binomial": ("glmmteach.model.family", "binomial"),
    "GlmerResult": ("glmmteach.model.results", "GlmerResult"),
    "confint": ("glmmteach.inference.intervals", "confint"),
    "bootstrap": ("glmmteach.inference.intervals", "bootstrap"),
    "profile": ("glmmteach.inference.profile", "profile"),
    "model_equation": ("glmmteach.inference.equation", "model_equation"),
}
# Short module names (as the lessons use them) -> where the module lives.
_MODULES = {
    "datasets": "glmmteach.datasets",
    "simulate": "glmmteach.simulate",
    "rcompat": "glmmteach.rcompat",
    "warnings": "glmmteach.warnings",
    "model": "glmmteach.model",
    "inference": "glmmteach.inference",
    "diagnostics": "glmmteach.diagnostics",
    "course": "glmmteach.course",
    "formula": "glmmteach.model.formula",
    "design": "glmmteach.model.design",
    "reterms": "glmmteach.model.reterms",
    "family": "glmmteach.model.family",
    "pirls": "glmmteach.model.pirls",
    "deviance": "glmmteach.model.deviance",
    "optimize": "glmmteach.model.optimize",
    "results": "glmmteach.model.results",
    "intervals": "glmmteach.inference.intervals",
    "interpret": "glmmteach.inference.interpret",
    "equation": "glmmteach.inference.equation",
    "checks": "glmmteach.diagnostics.checks",
    "checkplots": "glmmteach.diagnostics.plots",
    "plots": "glmmteach.course.plots",
    "widgets": "glmmteach.course.widgets",
    "lesson_widgets": "glmmteach.course.widgets.lessons",
    "power": "glmmteach.course.power",
    "studies": "glmmteach.course.studies",
    "exercises": "glmmteach.course.exercises",
}


def __getattr__(name: str):
    # Imports are lazy so that `import glmmteach` stays fast in lessons and widgets.
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    raise AttributeError(f"module 'glmmteach' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_MODULES))
