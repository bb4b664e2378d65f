"""Warning classes used across glmmteach, so tests and lessons can filter them precisely.

Imports only ``glmmteach.warnings``, ``glmmteach._util`` and the other modules at the side
(``rcompat``, ``simulate``, ``datasets``); never ``model``, ``inference``, ``diagnostics`` or
``course``.
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first caller outside glmmteach.

    A warning attributed to a line inside the library would be shown only once per session
    by Python's default filter (the second singular fit in a lesson would warn nothing);
    attributing it to the user's own line shows it for every call that causes it.
    """
    frame = sys._getframe(0)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


class GlmmteachWarning(UserWarning):
    """Base class of every warning glmmteach emits."""


class RowsDroppedWarning(GlmmteachWarning):
    """Rows with missing values in used columns were removed before fitting."""


class RankDeficientWarning(GlmmteachWarning):
    """Fixed-effect columns were dropped because the model matrix is rank deficient."""


class SingularFitWarning(GlmmteachWarning):
    """A random-effect variance (or a correlation) is estimated on the boundary."""


class ConvergenceWarning(GlmmteachWarning):
    """The optimizer's convergence checks (gradient, Hessian) failed."""


class SeparationWarning(ConvergenceWarning):
    """A fixed effect diverges: the response is (nearly) separated by a predictor."""


class ImpossibleProbabilityWarning(GlmmteachWarning):
    """A probability-scale simulation produced probabilities outside [0, 1]."""


class RCompatWarning(GlmmteachWarning):
    """An R-compatible random function met an argument for which R returns NA."""


class ProfileWarning(GlmmteachWarning):
    """A likelihood profile does not reach the requested level (its interval limit is NaN)."""


class BootstrapWarning(GlmmteachWarning):
    """Some bootstrap refits failed (they are counted and reported, never dropped silently)."""


class NonIntegerSuccessesWarning(GlmmteachWarning):
    """Proportion x weights (the numbers of successes) is not a whole number (R: "non-integer
    #successes in a binomial glm!")."""


class GroupSeparationWarning(ConvergenceWarning):
    """Every cluster of a grouping factor is all 0 or all 1: its SD is not identified."""
