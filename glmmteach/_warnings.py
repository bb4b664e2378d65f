"""Warning classes used across glmmteach, so tests and lessons can filter them precisely."""

from __future__ import annotations


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


class ImpossibleProbabilityWarning(GlmmteachWarning):
    """A probability-scale simulation produced probabilities outside [0, 1]."""


class RCompatWarning(GlmmteachWarning):
    """An R-compatible random function met an argument for which R returns NA."""
