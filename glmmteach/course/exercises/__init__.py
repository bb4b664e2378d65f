r"""Checkers for the course's exercises: specific feedback instead of a bare ``assert``.

Every exercise notebook in ``exercises/`` follows a task with a *check cell* such as::

    ex.check_log_odds(lambda: cell_log_odds, probs=STAIRS_PROBS)

The answer is passed wrapped in ``lambda:`` so that the checker can tell an unanswered task
(the variable is not defined yet, the solution cell still raises ``NotImplementedError``, or
the answer is ``None``) from a wrong one. A checker never raises: it returns a
:class:`Feedback` that Jupyter shows as a coloured box (plain text elsewhere), with one of
four outcomes:

* **correct** -- with a sentence on what the number means;
* **not yet** -- which quantity is off and the likely mistake behind it: log-odds given where
  a probability was asked for, a forgotten interaction, a conditional probability where the
  population average was asked for, a random effect added on the wrong scale, ...;
* **not attempted yet** -- the task has not been answered;
* **check the form of your answer** -- wrong type, wrong shape, a missing column or cell.

How the feedback is made: each checker computes the right answer from the task's givens with
the library (``glmmteach.simulate``, ``glmer``, ``checks``, ``power``) and also the answers
that typical mistakes produce; an answer that matches one of those gets the matching
explanation.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

from glmmteach.course.exercises.ex01 import (
    check_cell_proportions,
    check_design,
    check_effect_by_level,
    check_impossible_share,
    check_naive_simulation,
)
from glmmteach.course.exercises.ex02 import (
    check_coefficients,
    check_log_odds,
    check_logit_simulation,
    check_odds_ratio,
)
from glmmteach.course.exercises.ex03 import (
    check_fitted_model,
    check_random_sd,
    check_se_ratio,
    check_wald_test,
)
from glmmteach.course.exercises.ex04 import (
    check_combined_odds_ratio,
    check_conditional_probabilities,
    check_marginal_probabilities,
    check_odds_ratio_vs_risk,
    check_profile_interval,
)
from glmmteach.course.exercises.ex05 import (
    check_flagged_cells,
    check_lrt,
    check_residual_group_test,
)
from glmmteach.course.exercises.ex06 import (
    check_nsim_needed,
    check_power_estimate,
    check_power_result,
    check_singular_sd,
    check_slope_correlation,
    check_type_one_error,
)
from glmmteach.course.exercises.ex07 import (
    check_agq_sds,
    check_district_residuals,
    check_district_summary,
    check_slope_lrt,
    check_urban_odds_ratio,
    check_urban_probabilities,
)
from glmmteach.course.exercises.feedback import Feedback

__all__ = [
    "Feedback",
    # exercise 01
    "check_design",
    "check_effect_by_level",
    "check_naive_simulation",
    "check_impossible_share",
    "check_cell_proportions",
    # exercise 02
    "check_log_odds",
    "check_coefficients",
    "check_odds_ratio",
    "check_logit_simulation",
    # exercise 03
    "check_fitted_model",
    "check_random_sd",
    "check_wald_test",
    "check_se_ratio",
    # exercise 04
    "check_conditional_probabilities",
    "check_combined_odds_ratio",
    "check_marginal_probabilities",
    "check_odds_ratio_vs_risk",
    "check_profile_interval",
    # exercise 05
    "check_lrt",
    "check_flagged_cells",
    "check_residual_group_test",
    # exercise 06
    "check_power_estimate",
    "check_nsim_needed",
    "check_power_result",
    "check_type_one_error",
    "check_slope_correlation",
    "check_singular_sd",
    # exercise 07
    "check_district_summary",
    "check_slope_lrt",
    "check_agq_sds",
    "check_urban_odds_ratio",
    "check_urban_probabilities",
    "check_district_residuals",
]

