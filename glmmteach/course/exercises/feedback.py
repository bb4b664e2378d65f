"""The verdict every exercise checker returns: :class:`Feedback` and its outcomes.

Imports nothing from glmmteach.
"""

from __future__ import annotations

import html

__all__ = ["Feedback", "CORRECT", "INCORRECT", "NOT_ATTEMPTED", "INVALID", "ERROR"]

CORRECT = "correct"
INCORRECT = "incorrect"
NOT_ATTEMPTED = "not attempted"
INVALID = "invalid"
ERROR = "error"

_HEADLINES = {
    CORRECT: "Correct",
    INCORRECT: "Not yet",
    NOT_ATTEMPTED: "Not attempted yet",
    INVALID: "Check the form of your answer",
    ERROR: "The checker could not check this answer",
}
_COLOURS = {  # background, border
    CORRECT: ("#e8f5e9", "#2e7d32"),
    INCORRECT: ("#fdecea", "#c62828"),
    NOT_ATTEMPTED: ("#f1f3f4", "#757575"),
    INVALID: ("#fff8e1", "#f9a825"),
    ERROR: ("#fff8e1", "#f9a825"),
}


class Feedback:
    """The verdict of a checker, shown as a coloured box in Jupyter and as text elsewhere.

    Attributes
    ----------
    quantity : str
        What was checked, e.g. ``"the log-odds of the four cells"``.
    status : str
        ``"correct"``, ``"incorrect"``, ``"not attempted"``, ``"invalid"`` (wrong type or
        shape) or ``"error"`` (the checker itself failed; please report it).
    message : str
        The explanation: what is right, or which quantity is off and the likely mistake.
    """

    def __init__(self, quantity: str, status: str, message: str) -> None:
        self.quantity = quantity
        self.status = status
        self.message = message

    @property
    def passed(self) -> bool:
        """True when the answer is correct."""
        return self.status == CORRECT

    @property
    def headline(self) -> str:
        return _HEADLINES[self.status]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{self.headline} ({self.quantity}): {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """A machine-readable copy for ``glmmteach grade`` (Jupyter adds HTML and text)."""
        return {"application/vnd.glmmteach.feedback+json": {
            "quantity": self.quantity, "status": self.status, "message": self.message}}

    def _repr_html_(self) -> str:
        bg, border = _COLOURS[self.status]
        return (f'<div class="glmmteach-feedback glmmteach-{self.status.replace(" ", "-")}" '
                f'style="background:{bg};border-left:5px solid {border};padding:6px 10px;'
                f'margin:2px 0"><b>{html.escape(self.headline)}</b> '
                f'<span style="color:#555">({html.escape(self.quantity)})</span><br>'
                f"{html.escape(self.message)}</div>")


