r"""Build the numerical design of a binomial GLMM from a formula and a data frame.

``build_design("y ~ trt * sex + (1 | id)", data)`` returns a :class:`Design`: the response as
proportions and numbers of trials, the fixed-effect model matrix ``X`` with R's column names,
the offset, and one :class:`RandomTerm` per random-effect term (grouping-factor codes and the
term's own model matrix), in lme4's order.

How R codes things, and how this module follows it
---------------------------------------------------
* **Factors.** String, object and bool columns are factors. Their levels are sorted as R's
  ``factor()`` sorts strings in its default (ICU) collation: ignoring case first, lower case
  before upper case on ties, punctuation before digits before letters (``"a" < "B" < "b"``;
  Python's ``sorted`` would put ``"B"`` first). Bool columns have levels ``FALSE``, ``TRUE``.
  A pandas ``Categorical`` keeps its category order; an *ordered* Categorical is coded with R's
  orthogonal polynomial contrasts (``x.L``, ``x.Q``, ``x.C``, ``x^4``...). Numbers are
  factors only inside ``C()``/``factor()``, with levels in numeric order. Levels absent from
  the rows used are dropped (R's ``drop.unused.levels``).
* **Contrasts.** Treatment contrasts with the first level as reference (``trttreat``). Inside a
  term, a factor is coded by contrasts when the term without it is a margin of an earlier term
  (the intercept counts as the empty term) and by indicators of all levels otherwise; without
  an intercept the first factor is coded by indicators. So ``y ~ trt + trt:x`` has columns
  ``trtcontrol:x``, ``trttreat:x`` and ``y ~ 0 + trt`` has ``trtcontrol``, ``trttreat``. In an
  interaction the first variable varies fastest (``trtcontrol:sexmale``, ``trttreat:sexmale``).
* **Rank.** Columns linearly dependent on earlier columns are dropped (a column whose residual
  after projection on the kept earlier columns has norm < 1e-7 times its own norm, the rule of
  R's ``qr(..., LAPACK = FALSE)``), with a :class:`~glmmteach._warnings.RankDeficientWarning`.
* **Missing values.** Rows with a missing value (NaN, None, NA, NaT) in any column the model
  uses, or in the weights, are dropped with a :class:`~glmmteach._warnings.RowsDroppedWarning`.
  Infinite values are an error, not missing.
* **Grouping factors** follow the same level order. An interaction ``a:b`` (and lme4's nested
  ``b:a`` from ``a/b``) has one level per combination present in the data, labelled
  ``"a1:b1"``, ordered with the first factor varying slowest (lexicographically by the
  factors' own level orders), which is what lme4 does. Terms are sorted by decreasing number
  of levels as lme4 does: when the terms are not already in that order, the order is the
  reverse of a stable ascending sort, so terms with equal numbers of levels come out in
  reverse formula order (lme4 gives ``(1 + x || a) + (1 | b)`` with 30 ``b`` levels the order
  ``b``, ``a`` [x], ``a`` [intercept]).

The response
------------
* 0/1 numbers, booleans, or a two-level factor (first level = failure): ``trials`` = 1, or
  ``weights`` when given (prior weights; they must be finite and >= 0);
* ``cbind(successes, failures)``: ``y`` = successes / (successes + failures), ``trials`` =
  successes + failures (rows with 0 trials are kept with ``y`` = 0; they add nothing);
* a proportion in [0, 1] with ``weights=`` the numbers of trials.

``weights`` is an array-like with one value per row of ``data`` (taken by position) or the name
of a column.

Expressions
-----------
Variables may be expressions evaluated by a small restricted evaluator (no Python ``eval``):
arithmetic ``+ - * / ^ ** %% %/%``, comparisons, ``& | !``, constants ``pi``, ``TRUE``,
``FALSE``, and the functions ``I``, ``C``/``factor``/``as.factor``, ``as.numeric``, ``log``
(optional base), ``log2``, ``log10``, ``log1p``, ``exp``, ``expm1``, ``sqrt``, ``abs``,
``sin``, ``cos``, ``tan``, ``floor``, ``ceiling``, ``trunc``, ``round``, ``sign``, ``pmin``,
``pmax`` and ``scale`` (centred and scaled with the fitted data's mean and standard
deviation, also for ``newdata``, as R's ``predict`` does); numpy spellings such as
``np.log`` are accepted. Column names that are not R names can be written in backquotes:
``y ~ `dose (mg)` + (1 | id)``.

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from glmmteach._util import validate as _validate
from glmmteach.model.evaluate import CONSTANTS, AsFactor, Evaluator, column_value
from glmmteach.model.factors import (
    contr_poly,
    factorize,
    level_labels,
    poly_suffixes,
    r_level_order,
)
from glmmteach.model.formula import (
    BinOp,
    Call,
    ModelSpec,
    Name,
    Node,
    Paren,
    ParsedFormula,
    Unary,
    column_names,
    deparse,
    parse_formula,
)
from glmmteach.warnings import RankDeficientWarning, RowsDroppedWarning, warn

__all__ = ["Design", "RandomTerm", "build_design", "r_level_order", "RANK_TOL"]

#: Tolerance of the rank check (R's ``qr`` default, used by lme4).
RANK_TOL = 1e-7


# ---------------------------------------------------------------------------------------------
# variables and model matrices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VarRecipe:
    """How a variable was coded in the fit (levels for factors)."""

    label: str
    node: Node
    kind: str  # "numeric" or "factor"
    levels: pd.Index | None = None
    labels: tuple[str, ...] = ()
    ordered: bool = False


@dataclass
class _VarValue:
    recipe: _VarRecipe
    values: np.ndarray | None = None  # numeric
    codes: np.ndarray | None = None  # factor, -1 = missing


def _classify(label: str, node: Node, value: Any, n: int, role: str) -> _VarValue:
    """Turn an evaluated expression into a numeric or factor variable (fit time)."""
    if np.ndim(value.value if isinstance(value, AsFactor) else value) == 0:
        raise ValueError(
            f"the {role} '{label}' does not depend on the data (it is a single value); "
            "remove it or use a column"
        )
    forced = isinstance(value, AsFactor)
    if forced:
        value = value.value
    is_factor = forced or isinstance(value, pd.Series) or (
        isinstance(value, np.ndarray) and value.dtype == bool
    )
    if not is_factor:
        values = np.asarray(value, dtype=float)
        if values.shape != (n,):
            raise ValueError(f"the {role} '{label}' has shape {values.shape}, expected ({n},)")
        _validate.check_finite(values, label, role)
        _validate.check_magnitude(values, label, role)
        return _VarValue(_VarRecipe(label, node, "numeric"), values=values)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        _validate.check_finite(value, label, role)
    codes, levels, ordered = factorize(value)
    recipe = _VarRecipe(label, node, "factor", levels, level_labels(levels), ordered)
    return _VarValue(recipe, codes=codes)


def _map_levels(value: Any, recipe: _VarRecipe) -> np.ndarray:
    """Codes of new values in the fitted levels (-1 where missing); unknown levels raise."""
    if isinstance(value, AsFactor):
        value = value.value
    if isinstance(value, pd.Series):
        arr = value.to_numpy(dtype=object)
    else:
        arr = np.asarray(value)
    assert recipe.levels is not None
    codes = np.asarray(recipe.levels.get_indexer(arr), dtype=np.int64)
    missing = np.asarray(pd.isna(arr), dtype=bool)
    unknown = (codes < 0) & ~missing
    if unknown.any():
        bad = pd.unique(pd.Series(arr[unknown], dtype=object))
        names = column_names(recipe.node)
        column = names[0] if len(names) == 1 and recipe.label == names[0] else recipe.label
        _validate.check_known_levels(list(bad), column, list(recipe.labels))
    return codes


def _codings(spec: ModelSpec, is_factor: Mapping[str, bool]) -> tuple[tuple[str, ...], ...]:
    """For each term and variable: "numeric", "contrasts" or "full" (indicators of all levels).

    A factor gets contrasts when the term without it is a margin of an earlier term (or is the
    empty term and the model has an intercept); without an intercept the first factor of the
    model is coded by indicators.
    """
    previous: list[frozenset[str]] = []
    first_factor_seen = spec.intercept
    out = []
    for term in spec.terms:
        tset = frozenset(term)
        row = []
        for v in term:
            if not is_factor[v]:
                row.append("numeric")
                continue
            rest = tset - {v}
            contrasts = (not rest and spec.intercept) or any(rest <= p for p in previous)
            if not first_factor_seen:
                contrasts = False
                first_factor_seen = True
            row.append("contrasts" if contrasts else "full")
        previous.append(tset)
        out.append(tuple(row))
    return tuple(out)


def _factor_block(var: _VarValue, coding: str, n: int) -> tuple[np.ndarray, list[str]]:
    rec = var.recipe
    assert var.codes is not None and rec.levels is not None
    codes = var.codes
    k = len(rec.levels)
    ok = codes >= 0
    if coding == "contrasts" and rec.ordered:
        mat = contr_poly(k)[np.where(ok, codes, 0)]
        names = [rec.label + s for s in poly_suffixes(k)]
    else:
        full = np.zeros((n, k))
        full[np.flatnonzero(ok), codes[ok]] = 1.0
        if coding == "contrasts":
            mat, names = full[:, 1:], [rec.label + lab for lab in rec.labels[1:]]
        else:
            mat, names = full, [rec.label + lab for lab in rec.labels]
    if not ok.all():
        mat = np.array(mat, dtype=float)
        mat[~ok] = np.nan
    return mat, names


def _assemble(
    spec: ModelSpec,
    codings: tuple[tuple[str, ...], ...],
    variables: Mapping[str, _VarValue],
    n: int,
) -> tuple[np.ndarray, list[str]]:
    """The model matrix: intercept, then each term's columns (first variable fastest)."""
    blocks: list[np.ndarray] = []
    names: list[str] = []
    if spec.intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
    for term, coding in zip(spec.terms, codings, strict=True):
        block: np.ndarray | None = None
        bnames = [""]
        for label, how in zip(term, coding, strict=True):
            var = variables[label]
            if how == "numeric":
                assert var.values is not None
                col = var.values[:, None]
                block = col.copy() if block is None else block * col
                bnames = [f"{b}:{label}" if b else label for b in bnames]
            else:
                mat, lnames = _factor_block(var, how, n)
                if block is None:
                    block = mat
                else:
                    m = block.shape[1]
                    block = (mat[:, :, None] * block[:, None, :]).reshape(n, mat.shape[1] * m)
                bnames = [f"{b}:{ln}" if b else ln for ln in lnames for b in bnames]
        assert block is not None
        blocks.append(block)
        names.extend(bnames)
    if not blocks:
        return np.zeros((n, 0)), names
    if len(blocks) == 1:
        return np.ascontiguousarray(blocks[0], dtype=float), names
    return np.hstack(blocks), names


@dataclass(frozen=True)
class _MatrixRecipe:
    """Everything needed to rebuild a model matrix on new data."""

    spec: ModelSpec
    variables: dict[str, _VarRecipe]
    codings: tuple[tuple[str, ...], ...]
    colnames: tuple[str, ...]
    keep: tuple[int, ...]

    def build(self, env: Mapping[str, pd.Series], n: int, state: dict[str, Any]) -> np.ndarray:
        ev = Evaluator(env, state, fitting=False)
        values: dict[str, _VarValue] = {}
        for label, rec in self.variables.items():
            value = ev.eval(rec.node)
            if rec.kind == "numeric":
                if isinstance(value, pd.Series) and not isinstance(
                    value.dtype, pd.CategoricalDtype
                ):
                    value = pd.to_numeric(value, errors="coerce").to_numpy(dtype=float)
                if isinstance(value, (AsFactor, pd.Series)):
                    raise ValueError(f"newdata: '{label}' must be numeric, as in the fitted data")
                arr = np.broadcast_to(np.asarray(value, dtype=float), (n,))
                values[label] = _VarValue(rec, values=arr)
            else:
                values[label] = _VarValue(rec, codes=_map_levels(value, rec))
        X, _ = _assemble(self.spec, self.codings, values, n)
        if len(self.keep) != X.shape[1]:
            X = X[:, list(self.keep)]
        return X


def _fit_matrix(
    spec: ModelSpec,
    env: Mapping[str, pd.Series],
    n: int,
    state: dict[str, Any],
    role: str,
) -> tuple[np.ndarray, list[str], dict[str, _VarValue], tuple[tuple[str, ...], ...]]:
    ev = Evaluator(env, state, fitting=True)
    values = {label: _classify(label, node, ev.eval(node), n, role)
              for label, node in spec.variables}  # fmt: skip
    codings = _codings(spec, {k: v.recipe.kind == "factor" for k, v in values.items()})
    for term, coding in zip(spec.terms, codings, strict=True):
        for label, how in zip(term, coding, strict=True):
            if how == "contrasts":
                _validate.check_factor_has_two_levels(list(values[label].recipe.labels), label)
    X, names = _assemble(spec, codings, values, n)
    return X, names, values, codings


def _independent_columns(X: np.ndarray, tol: float = RANK_TOL) -> list[int]:
    """Indices of the columns kept: each column whose residual, after projection on the kept
    earlier columns, is at least ``tol`` times its norm (R's limited-pivoting QR rule).

    The projections are done on the small triangular factor of a Householder QR of ``X``,
    which has the same column geometry as ``X``.
    """
    n, p = X.shape
    if p == 0:
        return []
    r = np.linalg.qr(X, mode="r") if n >= p else X
    norms = np.linalg.norm(r, axis=0)
    basis = np.zeros((r.shape[0], 0))
    keep: list[int] = []
    for j in range(p):
        v = r[:, j].astype(float, copy=True)
        for _ in range(2):  # Gram-Schmidt, twice for stability
            v -= basis @ (basis.T @ v)
        resid = float(np.linalg.norm(v))
        if norms[j] > 0 and resid >= tol * norms[j]:
            keep.append(j)
            basis = np.column_stack([basis, v / resid])
    return keep


# ---------------------------------------------------------------------------------------------
# grouping factors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GroupRecipe:
    factors: tuple[str, ...]
    levels: tuple[pd.Index, ...]  # per factor, fitted levels
    steps: tuple[tuple[int, np.ndarray], ...]  # (levels of next factor, sorted keys present)

    def codes(self, env: Mapping[str, pd.Series]) -> np.ndarray:
        def mapped(name: str, levels: pd.Index) -> np.ndarray:
            value = column_value(env[name], keep_int=True)
            arr = value.to_numpy(dtype=object) if isinstance(value, pd.Series) else value
            return np.asarray(levels.get_indexer(arr), dtype=np.int64)

        codes = mapped(self.factors[0], self.levels[0])
        for name, levels, (size, keys) in zip(
            self.factors[1:], self.levels[1:], self.steps, strict=True
        ):
            c2 = mapped(name, levels)
            valid = (codes >= 0) & (c2 >= 0)
            key = codes * size + c2
            pos = np.searchsorted(keys, key)
            found = valid & (keys[np.minimum(pos, len(keys) - 1)] == key)
            codes = np.where(found, pos, -1)
        return codes


def _fit_group(factors: tuple[str, ...], env: Mapping[str, pd.Series]):
    def one(name: str) -> tuple[np.ndarray, pd.Index]:
        codes, levels, _ = factorize(column_value(env[name], keep_int=True))
        return codes, levels

    codes, levels = one(factors[0])
    all_levels = [levels]
    steps = []
    if len(factors) > 1:
        labels = np.asarray(level_labels(levels), dtype=object)
        for name in factors[1:]:
            c2, lev2 = one(name)
            all_levels.append(lev2)
            size = len(lev2)
            codes, keys = pd.factorize(codes * size + c2, sort=True)
            keys = np.asarray(keys, dtype=np.int64)
            lab2 = np.asarray(level_labels(lev2), dtype=object)
            labels = labels[keys // size] + ":" + lab2[keys % size]
            steps.append((size, keys))
        levels = pd.Index(labels.astype(str), dtype=object)
    recipe = _GroupRecipe(tuple(factors), tuple(all_levels), tuple(steps))
    return np.asarray(codes, dtype=np.int64), levels, recipe


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class RandomTerm:
    """One random-effect term ``(expr | group)``.

    Attributes
    ----------
    group : str
        lme4's name of the grouping factor: ``"id"``, ``"a:b"``, ``"b:a"`` (from ``a/b``).
        Terms made from ``(1 + x || g)`` share the group ``"g"``.
    codes : ndarray of int64, shape (n,)
        Level of each row, 0..L-1.
    levels : pandas.Index
        The L levels. For a single factor, its values in R's order (ints stay ints); for an
        interaction, strings ``"a1:b1"`` with the first factor varying slowest.
    X : ndarray of float, shape (n, q)
        The term's model matrix (a column of ones for ``(1 | g)``).
    cnms : tuple of str
        Its column names, e.g. ``("(Intercept)", "day")``, as lme4's ``cnms``.
    expr : str
        The left side of the bar as in :class:`~glmmteach.formula.RandomSpec`.
    correlated : bool
        False for terms made from ``||``.
    """

    group: str
    codes: np.ndarray
    levels: pd.Index
    X: np.ndarray
    cnms: tuple[str, ...]
    expr: str = "1"
    correlated: bool = True
    matrix_recipe: _MatrixRecipe | None = field(default=None, repr=False)
    grouping_recipe: _GroupRecipe | None = field(default=None, repr=False)

    @property
    def n_levels(self) -> int:
        """Number of levels L."""
        return len(self.levels)

    @property
    def covariate_nodes(self) -> list:
        """The expressions (formula nodes) of the term's covariates (empty for ``(1|g)``)."""
        if self.matrix_recipe is None:
            return []
        return [node for _, node in self.matrix_recipe.spec.variables]

    @property
    def grouping_factors(self) -> tuple[str, ...]:
        """The data columns whose interaction forms the grouping factor (``("a", "b")`` for
        ``b:a``)."""
        return tuple(self.grouping_recipe.factors) if self.grouping_recipe is not None else ()

    @property
    def q(self) -> int:
        """Number of columns of ``X``."""
        return self.X.shape[1]

    def __repr__(self) -> str:
        return (f"RandomTerm(({self.expr} | {self.group}), levels={self.n_levels}, "
                f"cnms={self.cnms})")  # fmt: skip


@dataclass(frozen=True, eq=False, repr=False)
class Design:
    """The numerical design of a binomial GLMM (see CONTRIBUTING.md, "Interfaces").

    Attributes
    ----------
    y : ndarray of float, shape (n,)
        Proportion of successes, in [0, 1].
    trials : ndarray of float, shape (n,)
        Binomial trials (prior weights; 1 for 0/1 data without weights).
    X : ndarray of float, shape (n, p)
        Fixed-effect model matrix, rank-deficient columns dropped.
    xnames : tuple of str
        R's column names of ``X``.
    offset : ndarray of float, shape (n,)
        Sum of the ``offset(...)`` terms and the ``offset=`` argument (zeros without).
    terms : tuple of RandomTerm
        Random-effect terms in lme4's order (decreasing number of levels).
    data : DataFrame
        The rows used (the caller's frame itself when no row was dropped).
    n_dropped : int
        Rows dropped for missing values.
    formula : str
        The formula as given.
    response_name : str
        The response as written (``"y"``, ``"cbind(s, f)"``).
    parsed : ParsedFormula
        The parsed formula.
    factor_levels : dict of str to pandas.Index
        Levels of each categorical fixed-effect variable (key: the variable as written).
    dropped_columns : tuple of str
        Columns of the full model matrix dropped for rank deficiency.
    """

    y: np.ndarray
    trials: np.ndarray
    X: np.ndarray
    xnames: tuple[str, ...]
    offset: np.ndarray
    terms: tuple[RandomTerm, ...]
    data: pd.DataFrame
    n_dropped: int
    formula: str
    response_name: str
    parsed: ParsedFormula
    factor_levels: dict[str, pd.Index]
    dropped_columns: tuple[str, ...]
    _fixed: _MatrixRecipe = field(repr=False)
    _offsets: tuple[tuple[str, Node], ...] = field(repr=False)
    _state: dict[str, Any] = field(repr=False)
    # the offset= argument: None, ("column", name) or ("values", None)
    _offset_arg: tuple[str, str | None] | None = field(default=None, repr=False)

    @property
    def nobs(self) -> int:
        """Number of rows used."""
        return len(self.y)

    @property
    def fixed_variables(self) -> dict:
        """The variables of the fixed part: label -> recipe with ``.node`` (the formula
        expression) and ``.kind`` (``"factor"``, ``"numeric"``, ...)."""
        return dict(self._fixed.variables)

    @property
    def offset_terms(self) -> tuple:
        """The ``offset(...)`` terms as ``(label, node)`` pairs."""
        return tuple(self._offsets)

    @property
    def successes(self) -> np.ndarray:
        """Number of successes per row, ``y * trials``."""
        return self.y * self.trials

    def __repr__(self) -> str:
        terms = ", ".join(f"({t.expr} | {t.group}) [{t.n_levels} levels]" for t in self.terms)
        return (f"Design({self.formula!r}: n={self.nobs}, X {self.X.shape[1]} columns "
                f"{list(self.xnames)}, {terms})")  # fmt: skip

    def _env(self, newdata: pd.DataFrame, nodes: Sequence[Node]) -> dict[str, pd.Series]:
        _validate.check_data_frame(newdata, "newdata")
        names: dict[str, None] = {}
        for node in nodes:
            for nm in column_names(node):
                if nm in newdata.columns or nm not in CONSTANTS:
                    names.setdefault(nm, None)
        _validate.check_newdata_columns(list(names), newdata)
        return {nm: newdata[nm] for nm in names}

    def new_X(self, newdata: pd.DataFrame) -> np.ndarray:
        """The fixed-effect model matrix for new rows, with the fitted columns.

        Parameters
        ----------
        newdata : DataFrame
            Must hold every column the fixed part uses; factor levels must have been seen in
            the fit. Missing values give rows of NaN.

        Returns
        -------
        ndarray of float, shape (len(newdata), p)

        Raises
        ------
        ValueError
            Naming a missing column, or a column and a level not seen in the fit.
        """
        env = self._env(newdata, [node for _, node in self._fixed.spec.variables])
        return self._fixed.build(env, len(newdata), self._state)

    def new_offset(self, newdata: pd.DataFrame) -> np.ndarray:
        """The offset for new rows (zeros when the formula has no ``offset()``).

        Parameters
        ----------
        newdata : DataFrame
            Must hold the columns the offsets use.

        Returns
        -------
        ndarray of float, shape (len(newdata),)

        Raises
        ------
        ValueError
            When the fit's ``offset=`` argument was given as values rather than a column
            name (there is nothing to evaluate on new rows), or that column is missing.
        """
        env = self._env(newdata, [node for _, node in self._offsets])
        out = np.zeros(len(newdata))
        ev = Evaluator(env, self._state, fitting=False)
        for _, node in self._offsets:
            out = out + np.asarray(ev.num(node), dtype=float)
        if self._offset_arg is not None:
            kind, name = self._offset_arg
            if kind == "values" or name not in newdata.columns:
                where = ("was given as values" if kind == "values"
                         else f"is the column {name!r}, which newdata lacks")
                raise ValueError(
                    f"the model's offset= argument {where}, so the offset of new rows is "
                    "unknown; refit with offset= naming a column (or with offset(...) in the "
                    "formula) and give that column in newdata")
            vals = pd.to_numeric(newdata[name], errors="coerce").to_numpy(dtype=float)
            _validate.check_finite(vals, name, "offset")
            out = out + vals
        return out

    def new_terms(self, newdata: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
        """Grouping codes and model matrices of the random terms for new rows.

        Parameters
        ----------
        newdata : DataFrame
            Must hold the grouping factors and the covariates of the random terms.

        Returns
        -------
        list of (codes, X)
            One pair per term of :attr:`terms`, in that order: codes (int64) in the fitted
            levels, -1 for a level not seen in the fit (or missing), and the term's matrix.
        """
        nodes: list[Node] = []
        for t in self.terms:
            assert t.matrix_recipe is not None and t.grouping_recipe is not None
            nodes.extend(node for _, node in t.matrix_recipe.spec.variables)
            nodes.extend(Name(f) for f in t.grouping_recipe.factors)
        env = self._env(newdata, nodes)
        n = len(newdata)
        out = []
        for t in self.terms:
            assert t.matrix_recipe is not None and t.grouping_recipe is not None
            out.append((t.grouping_recipe.codes(env), t.matrix_recipe.build(env, n, self._state)))
        return out


# ---------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------


def _response(
    node: Node,
    env: Mapping[str, pd.Series],
    n: int,
    state: dict[str, Any],
    weights: np.ndarray | None,
    weights_given: Any,
) -> tuple[np.ndarray, np.ndarray]:
    label = deparse(node)
    ev = Evaluator(env, state, fitting=True)
    inner = node.expr if isinstance(node, Paren) else node
    if isinstance(inner, Call) and inner.func == "cbind":
        if len(inner.args) != 2:
            raise ValueError(f"{label}: cbind() takes two columns, cbind(successes, failures)")
        _validate.check_no_weights_with_cbind(weights_given, label)
        s = np.broadcast_to(np.asarray(ev.num(inner.args[0]), dtype=float), (n,))
        f = np.broadcast_to(np.asarray(ev.num(inner.args[1]), dtype=float), (n,))
        _validate.check_cbind_counts(s, f, label)
        _validate.warn_noninteger_successes(s, label, "the first (successes) column")
        _validate.warn_noninteger_successes(f, label, "the second (failures) column")
        trials = s + f
        y = np.divide(s, trials, out=np.zeros(n), where=trials > 0)
        _validate.check_response_varies(s, f, label)
        return y, trials
    value = ev.eval(node)
    if isinstance(value, AsFactor):
        value = value.value
        if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
            value = pd.Series(value)
    if np.ndim(value) == 0:
        raise ValueError(f"the response {label!r} is a single value, not a column")
    if isinstance(value, np.ndarray) and value.dtype == bool:
        y = value.astype(float)
    elif isinstance(value, pd.Series):
        _validate.check_response_not_mixed(value, label)
        codes, levels, _ = factorize(value)
        _validate.check_two_level_response(list(level_labels(levels)), label)
        y = (codes == 1).astype(float)
    else:
        y = np.asarray(value, dtype=float)
        if weights is None:
            _validate.check_binary_response(y, label)
        else:
            _validate.check_proportion_response(y, label)
    trials = np.ones(n) if weights is None else weights
    if weights is not None:
        _validate.warn_noninteger_successes(y * trials, label, "the response x weights")
    _validate.check_response_varies(y * trials, (1 - y) * trials, label)
    return y, trials


def _check_single_argument_contrasts(node: Node) -> None:
    """``C(x, contr.sum)`` and friends: say that only treatment contrasts are available."""
    if isinstance(node, Call):
        if node.func in ("C", "factor", "as.factor") and len(node.args) > 1:
            raise ValueError(
                f"{deparse(node)}: glmmteach codes factors with treatment contrasts only "
                f"(first level as reference), so {node.func}() takes one argument; to change "
                "the reference level, reorder the levels of a pandas Categorical")
        for arg in node.args:
            _check_single_argument_contrasts(arg)
    else:
        for child in getattr(node, "__dict__", {}).values():
            if isinstance(child, (Call, BinOp, Unary, Paren)):
                _check_single_argument_contrasts(child)


def _used_columns(parsed: ParsedFormula, data: pd.DataFrame) -> list[str]:
    nodes: list[Node] = [parsed.response_node]
    fixed = parsed.fixed_spec
    nodes.extend(node for _, node in fixed.variables)
    nodes.extend(node for _, node in fixed.offsets)
    for r in parsed.random:
        nodes.extend(node for _, node in r.spec.variables)
        nodes.extend(Name(f) for f in r.factors)
    for node in nodes:
        _check_single_argument_contrasts(node)
    names: dict[str, None] = {}
    for node in nodes:
        for nm in column_names(node):
            if nm in data.columns or nm not in CONSTANTS:
                names.setdefault(nm, None)
    return list(names)


def build_design(
    formula: str | ParsedFormula,
    data: pd.DataFrame,
    weights: str | Sequence[float] | np.ndarray | pd.Series | None = None,
    offset: str | Sequence[float] | np.ndarray | pd.Series | None = None,
) -> Design:
    """Build the design (response, fixed and random parts) of a binomial GLMM.

    Parameters
    ----------
    formula : str or ParsedFormula
        An lme4 formula, e.g. ``"y ~ trt * sex + (1 | id)"`` or
        ``"cbind(s, f) ~ x + (1 + x || g)"``.
    data : DataFrame
        The data; string, bool and Categorical columns are factors.
    weights : str, array-like or None
        Numbers of trials for a proportion response, or prior weights for 0/1 data: a column
        name or one value per row of ``data`` (by position). Finite and >= 0; missing values
        drop the row.
    offset : str, array-like or None
        A known term added to the linear predictor, as lme4's ``offset=``: a column name
        (missing values drop the row) or one finite value per row of ``data`` (by
        position). Added to any ``offset(...)`` terms of the formula.

    Returns
    -------
    Design

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame or ``formula`` not a string.
    ValueError
        For bad input (see :mod:`glmmteach._validate`): unknown columns, a response that is
        not binomial, a formula without random effects, degenerate grouping factors, ...

    Warns
    -----
    RowsDroppedWarning
        When rows with missing values are dropped.
    RankDeficientWarning
        When columns of the fixed-effect matrix are dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "trt": list("abbaab"), "id": [1, 1, 2, 2, 3, 3]})
    >>> des = build_design("y ~ trt + (1 | id)", d)
    >>> des.xnames, des.terms[0].group, des.terms[0].n_levels
    (('(Intercept)', 'trtb'), 'id', 3)
    """
    _validate.check_data_frame(data)
    _validate.check_has_rows(len(data))
    if isinstance(formula, ParsedFormula):
        parsed = formula
        text = parsed.text or str(parsed)
    else:
        parsed = parse_formula(formula)
        text = formula
    _validate.check_has_random_terms(len(parsed.random), text)
    used = _used_columns(parsed, data)
    _validate.check_columns_exist(used, list(data.columns))

    # weights
    n_all = len(data)
    w: np.ndarray | None = None
    w_name = "weights"
    if isinstance(weights, str):
        _validate.check_columns_exist([weights], list(data.columns))
        w_name = weights
        if weights not in used:
            used.append(weights)
    elif weights is not None:
        try:
            w = np.asarray(weights, dtype=float).reshape(-1)
        except (TypeError, ValueError) as err:
            raise TypeError("weights must be numbers (numbers of trials) or a column name") from err
        _validate.check_weights_length(len(w), n_all)

    # offset= argument
    off_arg: np.ndarray | None = None
    off_kind: tuple[str, str | None] | None = None
    if isinstance(offset, str):
        _validate.check_columns_exist([offset], list(data.columns))
        off_kind = ("column", offset)
        if offset not in used:
            used.append(offset)
    elif offset is not None:
        off_kind = ("values", None)
        try:
            off_arg = np.asarray(offset, dtype=float).reshape(-1)
        except (TypeError, ValueError) as err:
            raise TypeError("offset= must be numbers (one per row of data) or a column "
                            "name") from err
        if len(off_arg) != n_all:
            raise ValueError(f"offset= has {len(off_arg)} values but data has {n_all} rows; "
                             "give one offset per row, or the name of a column")
        bad = ~np.isfinite(off_arg)
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = ", ".join(str(i) for i in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise ValueError(f"offset= must be finite, but {len(rows)} value(s) are missing "
                             f"or infinite (positions {shown}); fix them or drop those rows")

    _validate.check_unique_columns(used, list(data.columns))

    # missing values
    missing = np.zeros(n_all, dtype=bool)
    which: list[str] = []
    for col in used:
        m = data[col].isna().to_numpy()
        if m.any():
            missing |= m
            which.append(col)
    if w is not None and np.isnan(w).any():
        missing |= np.isnan(w)
        which.append("weights")
    n_dropped = int(missing.sum())
    if n_dropped:
        warn(
            f"dropped {n_dropped} of {n_all} rows with missing values in: {', '.join(which)}",
            RowsDroppedWarning,
        )
        keep = ~missing
        frame = data.loc[keep]
        if w is not None:
            w = w[keep]
        if off_arg is not None:
            off_arg = off_arg[keep]
    else:
        # a copy: the fitted model must not change when the caller edits their frame
        frame = data.copy()
    n = len(frame)
    _validate.check_enough_rows(n, n_dropped)
    env = {c: frame[c] for c in used}
    if isinstance(weights, str):
        try:
            w = frame[weights].to_numpy(dtype=float)
        except (TypeError, ValueError) as err:
            raise TypeError(f"the weights column {weights!r} must be numeric") from err
    if w is not None:
        _validate.check_weights_values(w, w_name)

    state: dict[str, Any] = {}
    y, trials = _response(parsed.response_node, env, n, state, w, weights)

    # fixed part
    fixed = parsed.fixed_spec
    X, names, values, codings = _fit_matrix(fixed, env, n, state, "predictor")
    keep_cols = _independent_columns(X)
    dropped = tuple(names[j] for j in range(len(names)) if j not in set(keep_cols))
    if dropped:
        s = "s" if len(dropped) > 1 else ""
        warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{s}: {', '.join(dropped)}",
            RankDeficientWarning,
        )
        X = np.ascontiguousarray(X[:, keep_cols])
    fixed_recipe = _MatrixRecipe(
        fixed, {k: v.recipe for k, v in values.items()}, codings, tuple(names), tuple(keep_cols)
    )
    factor_levels = {
        k: v.recipe.levels for k, v in values.items()
        if v.recipe.kind == "factor" and v.recipe.levels is not None
    }  # fmt: skip

    # offset
    offset = np.zeros(n)
    ev = Evaluator(env, state, fitting=True)
    for label, node in fixed.offsets:
        value = ev.eval(node)
        if isinstance(value, (pd.Series, AsFactor)):
            raise ValueError(f"the offset {label!r} must be numeric")
        arr = np.broadcast_to(np.asarray(value, dtype=float), (n,))
        _validate.check_finite(arr, label, "offset")
        offset = offset + arr
    if off_kind is not None and off_kind[0] == "column":
        try:
            off_arg = frame[off_kind[1]].to_numpy(dtype=float)
        except (TypeError, ValueError) as err:
            raise TypeError(f"the offset= column {off_kind[1]!r} must be numeric") from err
        _validate.check_finite(off_arg, off_kind[1], "offset")
    if off_arg is not None:
        offset = offset + off_arg

    # random part
    groups: dict[str, tuple[np.ndarray, pd.Index, _GroupRecipe]] = {}
    terms: list[RandomTerm] = []
    for r in parsed.random:
        spec = r.spec
        Z, znames, zvalues, zcodings = _fit_matrix(spec, env, n, state, "random-effect covariate")
        zrecipe = _MatrixRecipe(
            spec, {k: v.recipe for k, v in zvalues.items()}, zcodings, tuple(znames),
            tuple(range(len(znames))),
        )  # fmt: skip
        if r.group not in groups:
            codes, levels, grecipe = _fit_group(r.factors, env)
            _validate.check_group_has_two_levels(len(levels), r.group)
            if np.all(np.asarray(trials) == 1):
                # one level per 0/1 observation is not identifiable; with counts it is the
                # usual observation-level random effect for overdispersion (lme4 fits it)
                _validate.check_group_fewer_levels_than_obs(len(levels), n, r.group)
            groups[r.group] = (codes, levels, grecipe)
        codes, levels, grecipe = groups[r.group]
        _validate.check_nobs_vs_nre(n, len(levels) * Z.shape[1], f"({r.expr} | {r.group})")
        terms.append(
            RandomTerm(r.group, codes, levels, Z, tuple(znames), r.expr, r.correlated,
                       zrecipe, grecipe)
        )  # fmt: skip
    nlev = [t.n_levels for t in terms]
    if any(b > a for a, b in zip(nlev, nlev[1:], strict=False)):
        order = np.argsort(nlev, kind="stable")[::-1]
        terms = [terms[i] for i in order]

    return Design(
        y=y,
        trials=np.asarray(trials, dtype=float),
        X=X,
        xnames=tuple(names[j] for j in keep_cols),
        offset=offset,
        terms=tuple(terms),
        data=frame,
        n_dropped=n_dropped,
        formula=text,
        response_name=parsed.response,
        parsed=parsed,
        factor_levels=factor_levels,
        dropped_columns=dropped,
        _fixed=fixed_recipe,
        _offsets=fixed.offsets,
        _state=state,
        _offset_arg=off_kind,
    )
