"""Shared machinery of the exercise checkers: resolving the ``lambda:`` answer, validating
its form, matching it against the answers typical mistakes give, and the cells of a
factorial design. Package-private: only the ``exNN`` modules of this package import it.
"""

from __future__ import annotations

import functools
import math
import numbers
import types
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from glmmteach import simulate
from glmmteach.course.exercises.feedback import (
    CORRECT,
    ERROR,
    INCORRECT,
    INVALID,
    NOT_ATTEMPTED,
    Feedback,
)

# --------------------------------------------------------------------------------------------
# the machinery: resolving answers, validating forms, matching mistakes
# --------------------------------------------------------------------------------------------


class _NotAttempted(Exception):
    pass


class _Invalid(Exception):
    pass


class _Wrong(Exception):
    pass


def _resolve(answer, what: str = "your answer"):
    """The value behind ``lambda: name``; raises _NotAttempted for an unanswered task."""
    if isinstance(answer, types.FunctionType | functools.partial):
        try:
            value = answer()
        except NameError as err:
            name = getattr(err, "name", None) or str(err)
            raise _NotAttempted(
                f"`{name}` is not defined yet. Write your code in the task's cell (replace "
                f"the `raise NotImplementedError(...)` line), run it, then run this check "
                f"again.") from None
        except NotImplementedError:
            raise _NotAttempted(
                "the task's cell still raises NotImplementedError. Replace that line with your "
                "code, run it, then run this check again.") from None
        except Exception as err:  # noqa: BLE001 - reported to the student, not raised
            raise _Invalid(f"evaluating {what} raised {type(err).__name__}: {err}") from None
    else:
        value = answer
    if value is None or value is Ellipsis:
        raise _NotAttempted(f"{what} is still {value!r}. Replace it with your result and run "
                            f"the task's cell again.")
    return value


def _context(value, what: str):
    """A checker argument that may depend on an earlier task (passed as a lambda)."""
    try:
        return _resolve(value, what)
    except _NotAttempted:
        raise _NotAttempted(f"this check needs {what} from an earlier task; do that task "
                            f"first.") from None


def _checker(quantity: str) -> Callable:
    """Turn ``fn(value, **givens) -> message`` into a checker that returns Feedback."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(answer, /, **givens) -> Feedback:
            try:
                value = _resolve(answer)
                message = fn(value, **givens)
                return Feedback(quantity, CORRECT, message)
            except _NotAttempted as err:
                return Feedback(quantity, NOT_ATTEMPTED, str(err))
            except _Invalid as err:
                return Feedback(quantity, INVALID, str(err))
            except _Wrong as err:
                return Feedback(quantity, INCORRECT, str(err))
            except Exception as err:  # noqa: BLE001 - a check cell must never raise
                return Feedback(quantity, ERROR,
                                f"{type(err).__name__}: {err}. This is probably a problem of "
                                f"the exercise, not of your answer; please report it.")
        return wrapper

    return decorate


def _number(value, what: str) -> float:
    """A plain finite number (a one-element Series or array is accepted)."""
    if isinstance(value, str):
        raise _Invalid(f"{what} is the text {value!r}; give the number itself, e.g. 0.25, "
                       f"not a string")
    if isinstance(value, bool | np.bool_):
        raise _Invalid(f"{what} is {value!r}, a yes/no value; a number is expected")
    if isinstance(value, pd.Series | pd.DataFrame | np.ndarray | list | tuple):
        arr = np.asarray(value, dtype=object).ravel()
        if arr.size != 1:
            raise _Invalid(f"{what} should be a single number, but you gave {arr.size} values "
                           f"({type(value).__name__} of shape {np.shape(value)})")
        value = arr[0]
    if not isinstance(value, numbers.Real):
        raise _Invalid(f"{what} should be a number, not a {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise _Invalid(f"{what} is {out}; a finite number is expected (did a division by 0 or "
                       f"the log of 0 happen?)")
    return out


def _numbers(value, n: int, what: str) -> np.ndarray:
    """``n`` finite numbers from a list, tuple, array or Series."""
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray | pd.Series):
        raise _Invalid(f"{what} should be {n} numbers (a list, tuple, array or Series), not a "
                       f"{type(value).__name__}")
    if np.ndim(value) > 1:
        raise _Invalid(f"{what} should be {n} numbers in a flat list, array or Series; you "
                       f"gave an array of shape {np.shape(value)}")
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise _Invalid(f"{what} should hold numbers only") from None
    if arr.size != n:
        raise _Invalid(f"{what} should hold {n} numbers; it has {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise _Invalid(f"{what} holds a missing or infinite value")
    return arr


def _frame(value, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise _Invalid(f"{what} should be a pandas DataFrame, not a {type(value).__name__}")
    missing = [c for c in columns if c not in value.columns]
    if missing:
        raise _Invalid(f"{what} has no column {', '.join(repr(c) for c in missing)}; its "
                       f"columns are {list(value.columns)}")
    if len(value) == 0:
        raise _Invalid(f"{what} has no rows")
    return value


def _model(value, what: str = "your model"):
    from glmmteach.model.results import GlmerResult

    if isinstance(value, GlmerResult):
        return value
    module = type(value).__module__ or ""
    if module.startswith("statsmodels"):
        raise _Invalid(
            f"{what} is a statsmodels {type(value).__name__}. That kind of model treats all "
            f"rows as independent; fit the mixed model with glmmteach.glmer(formula, data), "
            f"with a random intercept (1|id)")
    raise _Invalid(f"{what} should be the result of glmmteach.glmer(...), not a "
                   f"{type(value).__name__}")


def _close(a, b, rtol: float = 1e-3, atol=1e-4) -> bool:
    """Elementwise closeness; ``atol`` may be one number or one per element.

    An element whose ``atol`` is 0 is compared relatively only (the right way for p-values,
    which span many orders of magnitude: 1e-6 and 2e-6 are different answers).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    tol = np.broadcast_to(np.asarray(atol, dtype=float), b.shape)
    fin = np.isfinite(b)
    if not bool(np.all(np.isfinite(a) == fin)):
        return False
    return bool(np.all(np.isclose(a[fin], b[fin], rtol=rtol, atol=tol[fin])))


def _plural(value) -> bool:
    try:
        return np.size(np.asarray(value, dtype=float)) > 1
    except (TypeError, ValueError):
        return True


def _diagnose(value, expected, mistakes: Sequence[tuple[object, str | None]], *, what: str,
              rtol: float = 1e-3, atol=1e-4, hint: str = "") -> None:
    """Return if ``value`` matches ``expected``; else raise _Wrong with the likely mistake.

    ``mistakes`` pairs the answer a typical mistake gives with its explanation; a ``None``
    explanation marks an acceptable variant (accepted as correct). An answer that matches
    none of them is told which quantity is off, by how much, and how to compute it.
    """
    if _close(value, expected, rtol, atol):
        return
    for candidate, message in mistakes:
        try:
            match = candidate is not None and _close(value, candidate, rtol, atol)
        except (TypeError, ValueError):
            continue
        if match and message is None:  # an acceptable variant (e.g. n - 1 for n)
            return
        if match:
            raise _Wrong(message)
    raise _Wrong(_unmatched(value, expected, what, hint))


def _unmatched(value, expected, what: str, hint: str) -> str:
    """The message for a wrong answer that matches no known mistake."""
    got = np.atleast_1d(np.asarray(value, dtype=float))
    exp = np.atleast_1d(np.asarray(expected, dtype=float))
    verb = "do" if _plural(expected) else "does"
    text = f"{what} {verb} not match the expected value{'s' if verb == 'do' else ''}"
    if got.shape == exp.shape and got.size:
        k = int(np.argmax(np.abs(got - exp)))
        where = f" (entry {k + 1} of {got.size})" if got.size > 1 else ""
        text += (f": you have {got[k]:.4g}{where}, which matches none of the usual mistakes "
                 f"(another scale, a variance for an SD, a percentage, a forgotten term)")
    text += "."
    return f"{text} {hint}".strip()


# --------------------------------------------------------------------------------------------
# cells of a factorial design
# --------------------------------------------------------------------------------------------


def _cells(factors) -> list[tuple[str, ...]]:
    """The cells of a factorial design in R's interaction() order."""
    return simulate.cell_combinations(factors)


def _cell_name(cell: tuple[str, ...], factors) -> str:
    return ", ".join(f"{f}={lev}" for f, lev in zip(factors, cell, strict=True))


def _cell_values(value, factors, what: str) -> np.ndarray:
    """One number per cell, in R's interaction() order, from the usual pandas shapes."""
    cells = _cells(factors)
    names = list(factors)
    if isinstance(value, pd.DataFrame):
        fcols = [f for f in names if f in value.columns]
        if len(fcols) == len(names):
            numeric = [c for c in value.columns
                       if c not in names and pd.api.types.is_numeric_dtype(value[c])]
            if len(numeric) != 1:
                raise _Invalid(f"{what}: a DataFrame with the columns {names} should have "
                               f"exactly one numeric column besides them; it has {numeric}")
            value = value.set_index(names)[numeric[0]]
        elif value.shape[1] == 1:
            value = value.iloc[:, 0]
        else:
            raise _Invalid(
                f"{what} is a DataFrame of shape {value.shape}; give one number per cell, e.g. "
                f"a Series indexed by {names} (what df.groupby({names})[col].mean() returns)")
    if isinstance(value, Mapping) and not isinstance(value, pd.Series):
        value = pd.Series(dict(value))
    if isinstance(value, pd.Series):
        s = value
        if isinstance(s.index, pd.MultiIndex):
            if set(s.index.names) == set(names) and list(s.index.names) != names:
                s = s.reorder_levels(names)
            keys = [tuple(str(k) for k in key) for key in s.index]
        else:
            keys = []
            for key in s.index:
                text = str(key)
                parts = tuple(text.split(".")) if "." in text else tuple(text.split(":"))
                keys.append(parts if len(names) > 1 else (text,))
        lookup = {}
        for key, v in zip(keys, s.to_numpy(), strict=True):
            lookup[key] = v
        out = []
        for cell in cells:
            if cell not in lookup:
                raise _Invalid(f"{what} has no value for the cell {_cell_name(cell, factors)}; "
                               f"it should have one value for each of the {len(cells)} cells")
            out.append(lookup[cell])
        extra = [k for k in lookup if k not in cells]
        if extra:
            raise _Invalid(f"{what} has an entry {extra[0]!r} that is not a cell of the design "
                           f"(levels: {dict(factors)})")
        return _numbers(out, len(cells), what)
    if isinstance(value, np.ndarray) and value.ndim > 1:
        raise _Invalid(f"{what} is an array of shape {value.shape}; give one number per cell "
                       f"as a Series indexed by {names}, or a flat list in R's cell order")
    return _numbers(value, len(cells), what)


def _cell_probs(cell_probs, factors) -> np.ndarray:
    return simulate.cell_table(cell_probs, factors).to_numpy(dtype=float)


def _nonref_effect(values: np.ndarray, factors, effect: str, by: str) -> pd.Series:
    """For each level of ``by``: value(effect=2nd level) - value(effect=1st level)."""
    table = pd.Series(values, index=pd.MultiIndex.from_tuples(_cells(factors),
                                                              names=list(factors)))
    lev = factors[effect]
    wide = table.unstack(effect)
    return (wide[lev[1]] - wide[lev[0]]).reindex(list(factors[by]))



# --------------------------------------------------------------------------------------------
# helpers more than one exercise uses
# --------------------------------------------------------------------------------------------


def _sd_range(sd: float, n: int, z: float = 3.5) -> tuple[float, float]:
    """A generous range for the sample SD of n normal draws with SD ``sd``."""
    rel = z / math.sqrt(2.0 * max(n - 1, 1))
    return sd * max(0.0, 1 - rel), sd * (1 + rel)


def _in_sd_range(value: float, sd: float, n: int) -> bool:
    lo, hi = _sd_range(sd, n)
    return lo <= value <= hi


def _pair(value, keys: Sequence[str], what: str) -> np.ndarray:
    if isinstance(value, Mapping):
        missing = [k for k in keys if k not in value]
        if missing:
            raise _Invalid(f"{what} should have the keys {list(keys)}; {missing[0]!r} is "
                           f"missing")
        return np.array([_number(value[k], f"{what}[{k!r}]") for k in keys])
    arr = _numbers(value, len(keys), what)
    return arr


def _reference_fit(data, formula: str):
    import warnings

    from glmmteach.model.fit import glmer
    from glmmteach.warnings import SingularFitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return glmer(formula, data)



# --------------------------------------------------------------------------------------------
# tests that a simulated data set comes from the model the task describes
# --------------------------------------------------------------------------------------------

# A correct simulation fails one of these tests with probability about 1e-5 (|z| > 4.4):
# rare enough never to tell a student with a correct answer that it is wrong, while a
# missing coefficient of the size the exercises use is many standard errors away.
_Z_REJECT = 4.4


def _per_subject(values: np.ndarray, ids: np.ndarray, tol: float):
    """One value per subject, or None when the value changes within a subject."""
    s = pd.Series(values).groupby(ids, sort=True)
    if (s.std(ddof=0).fillna(0) > tol).any():
        return None
    return s.first()


def _cell_shift_z(shift: pd.Series, cell_of: pd.Series, sd: float) -> pd.Series:
    """z = mean of the subjects' shifts in a cell / (sd / sqrt(n)): 0 on average when the
    shifts are the task's random effect, N(0, sd), drawn independently of the cell."""
    g = shift.groupby(cell_of)
    return g.mean() / (sd / np.sqrt(g.size()))


def _subject_cells(d: pd.DataFrame, ids: np.ndarray, factors) -> pd.Series:
    first = d.assign(_id=ids).groupby("_id", sort=True)[list(factors)].first()
    return first.astype(str).apply(lambda r: ", ".join(f"{f}={v}" for f, v in r.items()),
                                   axis=1)


def _bernoulli_z(y: np.ndarray, p: np.ndarray, p_alt: np.ndarray) -> tuple[float, float]:
    """Two z statistics for "y ~ Bernoulli(p)", both N(0, 1) for a correct simulation.

    The first compares the number of 1s with its expectation sum(p). The second is the
    log-likelihood ratio of ``p`` against ``p_alt`` (e.g. the cell probability without the
    subject's random effect), centred and scaled under y ~ Bernoulli(p): strongly negative
    when y was drawn from ``p_alt`` instead.
    """
    var = float(np.sum(p * (1 - p)))
    z_sum = float((np.sum(y) - np.sum(p)) / np.sqrt(var)) if var > 0 else 0.0
    a = np.log(p / p_alt)
    b = np.log((1 - p) / (1 - p_alt))
    t = float(np.sum(y * a + (1 - y) * b))
    mean = float(np.sum(p * a + (1 - p) * b))
    sd = float(np.sqrt(np.sum(p * (1 - p) * (a - b) ** 2)))
    z_lr = (t - mean) / sd if sd > 1e-12 else 0.0
    return z_sum, z_lr


def _y_mistake(y: np.ndarray, p: np.ndarray, base: np.ndarray) -> str | None:
    """Why ``y`` does not look like Bernoulli(p) draws, or None when it does."""
    z_sum, z_lr = _bernoulli_z(y, p, base)
    if abs(z_sum) <= _Z_REJECT and z_lr >= -_Z_REJECT:
        return None

    def loglik(yy, pp):
        return float(np.sum(yy * np.log(pp) + (1 - yy) * np.log1p(-pp)))

    own, flipped, without = loglik(y, p), loglik(1 - y, p), loglik(y, base)
    if flipped > max(own, without):
        return ("y looks flipped (1 - y): it is 1 where the probability p is low; y should be "
                "1 with probability p, rng.binomial(1, p)")
    if without > own:
        return ("y looks drawn from the cell probabilities without the subjects' random "
                "effects; draw y from each row's own p, rng.binomial(1, p)")
    return (f"y does not follow the probabilities in column 'p' (number of 1s: z = "
            f"{z_sum:.1f}); draw y as rng.binomial(1, p) with each row's own p")
