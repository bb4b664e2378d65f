r"""Parse model formulas written in lme4's syntax.

``parse_formula("y ~ trt * sex + (1 | id)")`` splits a formula into its response, its fixed
part and its random-effect terms, after lme4's expansions of ``||`` and of nested grouping
factors ``a/b``. The parser is hand written (a tokenizer and a recursive-descent parser with R's
operator precedence), so the names it produces are R's: expressions are printed back the way
R's ``deparse`` prints them (``I(x**2)`` becomes ``I(x^2)``, ``I(x*2)`` becomes ``I(x * 2)``).

Grammar (R's precedence, loosest first)::

    formula  := [expr] "~" expr
    expr     := "|" "||"  <  "&" "&&"  <  "!"  <  comparisons  <  "+" "-"  <  "*" "/"
                <  %op% (e.g. %in%)  <  ":"  <  unary "+" "-"  <  "^" "**" (right to left)
    primary  := number | "string" | name | `backquoted name` | name "(" args ")" | "(" expr ")"

The fixed part is expanded with Wilkinson-Rogers rules as R's ``terms()`` does: ``a * b`` is
``a + b + a:b``; ``a / b`` is ``a + a:b``; ``b %in% a`` is ``b:a``; ``(a + b + c)^2`` holds all
terms up to order 2; ``- term`` removes a term; ``0 +``, ``+ 0`` and ``- 1`` remove the
intercept, ``+ 1`` restores it; ``offset(x)`` adds a known term to the linear predictor. Terms
are ordered by their number of variables, then by their first appearance; the variables of an
interaction are ordered by their first appearance in the formula (``y ~ b + a:b`` has the term
``b:a``), which is how R names the columns.

Random terms ``(expr | g)`` must be added at the top level of the right-hand side. lme4's
expansions are applied: ``(1 + x || g)`` becomes ``(1 | g) + (0 + x | g)`` (one uncorrelated
term per term of ``expr``) and ``(expr | a/b)`` becomes ``(expr | b:a) + (expr | a)``;
``(expr | a/b/c)`` gives ``c:(b:a)``, ``b:a`` and ``a``, lme4's names.

Why a parser of our own: the Python formula libraries do not serve the course. formulaic (and
patsy) cannot parse lme4's random-effect bars ``(1 | g)``, and they name treatment-coded
columns ``trt[T.treat]`` where R and the article print ``trttreat``; matching lme4's output
name for name (and R's ``deparse`` of expressions) needs R's grammar and naming rules.

Imports only ``glmmteach._util``; the rest of ``glmmteach.model`` builds on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from glmmteach._util import validate as _validate
from glmmteach._util.rformat import format_r_number

__all__ = [
    "ParsedFormula",
    "RandomSpec",
    "ModelSpec",
    "parse_formula",
    "parse_rhs",
    "parse_expr",
    "group_factors",
    "deparse",
    "format_r_number",
    "column_names",
    "Num",
    "Str",
    "Name",
    "Call",
    "BinOp",
    "Unary",
    "Paren",
]


# ---------------------------------------------------------------------------------------------
# syntax tree
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A number literal; ``text`` is as written (``2.0``, ``1e5``, ``3L``)."""

    value: float
    text: str


@dataclass(frozen=True)
class Str:
    """A string literal (single or double quotes)."""

    value: str


@dataclass(frozen=True)
class Name:
    """A name: a data column, or a constant such as ``pi`` or ``TRUE``."""

    id: str


@dataclass(frozen=True)
class Call:
    """A function call ``func(args)``; ``func`` may be dotted (``np.log``)."""

    func: str
    args: tuple


@dataclass(frozen=True)
class BinOp:
    """A binary operator; ``**`` is stored as ``^``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary:
    """A prefix ``-``, ``+`` or ``!``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Paren:
    """Parentheses, kept so that expressions print back as written."""

    expr: Node


Node = Num | Str | Name | Call | BinOp | Unary | Paren


# ---------------------------------------------------------------------------------------------
# tokenizer
# ---------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<name>[A-Za-z_.][A-Za-z0-9_.]*)
  | (?P<bq>`[^`]*`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>\|\||\*\*|%[^%\s]*%|==|!=|<=|>=|&&|[~+\-*/:^|&!<>(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "str", "op", "end"
    text: str
    pos: int


def _syntax_error(text: str, pos: int, message: str) -> ValueError:
    return ValueError(f"could not parse formula: {message}\n    {text}\n    {' ' * pos}^")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise _syntax_error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        assert kind is not None
        if kind == "bq":
            tokens.append(_Token("name", m.group()[1:-1], pos))
        elif kind != "ws":
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# ---------------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------------

_COMPARE = ("==", "!=", "<", ">", "<=", ">=")


class _Parser:
    """Recursive-descent parser over the token list, one method per precedence level."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # nesting of parentheses, calls and prefix operators

    def _nest(self) -> None:
        """Count one more level of nesting; refuse formulas nested absurdly deep.

        Sums and products of any length are parsed by loops (``x1 + x2 + ... + x600`` is
        fine); only nesting recurses, and Python's stack is limited.
        """
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"the formula is nested more than {MAX_NESTING} levels deep "
                             "(parentheses, function calls or prefix operators); simplify it")

    # token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def _is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def _take(self) -> _Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def _expect(self, op: str) -> None:
        if not self._is_op(op):
            found = repr(self.tok.text) if self.tok.kind != "end" else "the end"
            raise _syntax_error(self.text, self.tok.pos, f"expected {op!r} but found {found}")
        self.i += 1

    def error(self, message: str, tok: _Token | None = None) -> ValueError:
        tok = self.tok if tok is None else tok
        return _syntax_error(self.text, tok.pos, message)

    # entry points
    def formula(self) -> tuple[Node | None, Node]:
        lhs = None
        if not self._is_op("~"):
            lhs = self.expr()
        if not self._is_op("~"):
            raise self.error("a formula needs '~' between the response and the predictors")
        self._take()
        rhs = self.expr()
        self._finish()
        return lhs, rhs

    def expression(self) -> Node:
        node = self.expr()
        self._finish()
        return node

    def _finish(self) -> None:
        if self.tok.kind != "end":
            if self._is_op("~"):
                raise self.error("only one '~' is allowed in a formula")
            raise self.error(f"unexpected {self.tok.text!r}")

    # precedence levels, loosest first
    def expr(self) -> Node:
        node = self.and_()
        while self._is_op("|", "||"):
            op = self._take().text
            node = BinOp(op, node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self._is_op("&", "&&"):
            op = self._take().text
            node = BinOp(op, node, self.not_())
        return node

    def not_(self) -> Node:
        if self._is_op("!"):
            self._take()
            self._nest()
            node = Unary("!", self.not_())
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        node = self.additive()
        if self._is_op(*_COMPARE):
            op = self._take().text
            node = BinOp(op, node, self.additive())
            if self._is_op(*_COMPARE):
                raise self.error("comparisons cannot be chained; use parentheses")
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self._is_op("+", "-"):
            op = self._take().text
            node = BinOp(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.special()
        while self._is_op("*", "/"):
            op = self._take().text
            node = BinOp(op, node, self.special())
        return node

    def special(self) -> Node:
        node = self.colon()
        while self.tok.kind == "op" and self.tok.text.startswith("%"):
            op = self._take().text
            node = BinOp(op, node, self.colon())
        return node

    def colon(self) -> Node:
        node = self.unary()
        while self._is_op(":"):
            self._take()
            node = BinOp(":", node, self.unary())
        return node

    def unary(self) -> Node:
        if self._is_op("-", "+"):
            op = self._take().text
            self._nest()
            node = Unary(op, self.unary())
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Node:
        node = self.postfix()
        if self._is_op("^", "**"):
            self._take()
            self._nest()
            node = BinOp("^", node, self.unary())  # right to left; allows x^-1 as R does
            self.depth -= 1
        return node

    def postfix(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self._take()
            body = tok.text[:-1] if tok.text.endswith("L") else tok.text
            return Num(float(body), tok.text)
        if tok.kind == "str":
            self._take()
            raw = tok.text[1:-1]
            return Str(re.sub(r"\\(.)", r"\1", raw))
        if tok.kind == "name":
            self._take()
            if self._is_op("("):
                self._take()
                self._nest()
                args: list[Node] = []
                if not self._is_op(")"):
                    args.append(self.expr())
                    while self._is_op(","):
                        self._take()
                        args.append(self.expr())
                self._expect(")")
                self.depth -= 1
                return Call(tok.text, tuple(args))
            return Name(tok.text)
        if self._is_op("("):
            self._take()
            if self._is_op(")"):
                raise self.error("empty parentheses")
            self._nest()
            inner = self.expr()
            if self._is_op("~"):
                raise self.error("'~' cannot appear inside parentheses")
            self._expect(")")
            self.depth -= 1
            return Paren(inner)
        if tok.kind == "end":
            raise self.error("the formula ends too early")
        raise self.error(f"unexpected {tok.text!r}")


# ---------------------------------------------------------------------------------------------
# printing (R's deparse conventions)
# ---------------------------------------------------------------------------------------------

_NO_SPACE_OPS = {"^", ":", "/", "%%", "%/%"}

#: Deepest nesting of parentheses, calls and prefix operators the parser accepts.
MAX_NESTING = 40
# reserved words that are not constants (TRUE, Inf, ... print bare)
_R_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "in"}
_R_SYNTACTIC = re.compile(r"^((([A-Za-z]|[.][._A-Za-z])[._A-Za-z0-9]*)|[.])$")


def _name_text(name: str) -> str:
    if _R_SYNTACTIC.match(name) and name not in _R_RESERVED:
        return name
    return "`" + name + "`"


def deparse(node: Node) -> str:
    """Print a syntax tree back as R's ``deparse`` would.

    Parameters
    ----------
    node : Node
        A node from :func:`parse_expr`.

    Returns
    -------
    str
        Spaces around ``+ - * == < & |`` and ``%in%``, none around ``^ : / %%``; ``**`` is
        printed ``^``, strings with double quotes, non-syntactic names in backquotes.
    """
    if isinstance(node, Num):
        if node.text.endswith("L"):
            return node.text
        return format_r_number(node.value)
    if isinstance(node, Str):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, Name):
        return _name_text(node.id)
    if isinstance(node, Call):
        return f"{node.func}({', '.join(deparse(a) for a in node.args)})"
    if isinstance(node, Paren):
        return f"({deparse(node.expr)})"
    if isinstance(node, Unary):
        return node.op + deparse(node.operand)
    if isinstance(node, BinOp):
        # walk the left spine in a loop: a sum of 600 terms is 600 levels deep
        spine: list[BinOp] = []
        while isinstance(node, BinOp):
            spine.append(node)
            node = node.left
        parts = [deparse(node)]
        for b in reversed(spine):
            sep = b.op if b.op in _NO_SPACE_OPS else f" {b.op} "
            parts.append(sep + deparse(b.right))
        return "".join(parts)
    raise TypeError(f"not a formula node: {node!r}")


def column_names(node: Node) -> list[str]:
    """The names a node refers to, in order of appearance, without repeats.

    Function names are not included; constants such as ``pi`` are (the caller decides).

    Parameters
    ----------
    node : Node
        A syntax tree.

    Returns
    -------
    list of str
    """
    out: dict[str, None] = {}
    stack = [node]  # depth first, left to right, without recursion
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            out.setdefault(n.id, None)
        elif isinstance(n, Call):
            stack.extend(reversed(n.args))
        elif isinstance(n, BinOp):
            stack.append(n.right)
            stack.append(n.left)
        elif isinstance(n, Unary):
            stack.append(n.operand)
        elif isinstance(n, Paren):
            stack.append(n.expr)
    return list(out)


# ---------------------------------------------------------------------------------------------
# Wilkinson-Rogers expansion of a right-hand side
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """The expanded terms of a right-hand side (the fixed part, or the left side of a bar).

    Attributes
    ----------
    intercept : bool
        Whether the model has an intercept.
    terms : tuple of tuple of str
        Each term as its variables' labels, in R's order (by order of the interaction, then
        first appearance); within a term the variables are in order of first appearance.
    variables : tuple of (str, Node)
        Every variable used by a term, label (R's deparsed text) and syntax tree.
    offsets : tuple of (str, Node)
        The ``offset(...)`` calls: label (e.g. ``"offset(log(n))"``) and the argument.
    """

    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    variables: tuple[tuple[str, Node], ...]
    offsets: tuple[tuple[str, Node], ...] = ()

    @property
    def term_labels(self) -> tuple[str, ...]:
        """R's term labels, e.g. ``("trt", "sex", "trt:sex")``."""
        return tuple(":".join(t) for t in self.terms)


_FORMULA_OPS = {"+", "-", "*", "/", ":", "^", "%in%"}


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.expr
    return node


def _merge(*lists: list[frozenset]) -> list[frozenset]:
    seen: dict[frozenset, None] = {}
    for lst in lists:
        for t in lst:
            seen.setdefault(t, None)
    return list(seen)


def _product(a: list[frozenset], b: list[frozenset]) -> list[frozenset]:
    return _merge([ta | tb for ta in a for tb in b])


class _Expander:
    def __init__(self, text: str) -> None:
        self.text = text
        self.intercept = True
        self.variables: dict[str, Node] = {}
        self.offsets: dict[str, Node] = {}

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{message} (in {self.text!r})")

    def terms(self, node: Node, top: bool) -> list[frozenset]:
        if isinstance(node, Paren):
            return self.terms(node.expr, top)
        if isinstance(node, Num):
            if not top:
                raise self.fail(
                    f"the number {deparse(node)} can only be added or removed at the top "
                    "level of a formula (0 or 1, for the intercept)"
                )
            if node.value == 1:
                self.intercept = True
            elif node.value == 0:
                self.intercept = False
            else:
                raise self.fail(
                    f"a number ({deparse(node)}) is not a term; use 1 or 0 for the intercept, "
                    f"or I(...) for a computed column"
                )
            return []
        if isinstance(node, Str):
            raise self.fail(f"a string ({deparse(node)}) is not a term")
        if isinstance(node, Unary) and node.op in "+-":
            inner = _unparen(node.operand)
            if node.op == "+":
                return self.terms(node.operand, top)
            if not top:
                raise self.fail(
                    f"'-{deparse(node.operand)}' can only remove a term at the top level"
                )
            if isinstance(inner, Num):
                self._remove_number(inner)
            else:
                self.terms(node.operand, False)  # registers variables; nothing to remove from
            return []
        if isinstance(node, BinOp) and node.op in ("|", "||"):
            raise self.fail(
                f"the random-effect term '{deparse(node)}' must be in parentheses and added to "
                f"the formula at the top level, e.g. y ~ x + ({deparse(node)})"
            )
        if isinstance(node, BinOp) and node.op in _FORMULA_OPS:
            return self._binop(node, top)
        if isinstance(node, Call) and node.func == "offset":
            if not top:
                raise self.fail(f"'{deparse(node)}' cannot be part of an interaction")
            if len(node.args) != 1:
                raise self.fail("offset() takes exactly one argument")
            self.offsets.setdefault(deparse(node), node.args[0])
            return []
        # any other expression is a variable
        label = deparse(node)
        self.variables.setdefault(label, node)
        return [frozenset([label])]

    def _remove_number(self, num: Num) -> None:
        if num.value == 1:
            self.intercept = False
        elif num.value == 0:
            self.intercept = True
        else:
            raise self.fail(f"cannot remove the number {deparse(num)}")

    def _sum(self, node: BinOp, top: bool) -> list[frozenset]:
        """``a + b - c + ...`` left to right in a loop (a long sum is a deep left spine)."""
        spine: list[BinOp] = []
        cur: Node = node
        while isinstance(cur, BinOp) and cur.op in ("+", "-"):
            spine.append(cur)
            cur = cur.left
        result = self.terms(cur, top)
        for b in reversed(spine):
            result = self._add_or_remove(b.op, result, b.right, top)
        return result

    def _add_or_remove(self, op: str, left: list[frozenset], right_node: Node,
                       top: bool) -> list[frozenset]:
        if op == "+":
            return _merge(left, self.terms(right_node, top))
        right = _unparen(right_node)
        if isinstance(right, Num):
            if not top:
                raise self.fail("the intercept can only be removed at the top level")
            self._remove_number(right)
            return left
        removed = set(self.terms(right_node, False))
        return [t for t in left if t not in removed]

    def _binop(self, node: BinOp, top: bool) -> list[frozenset]:
        op = node.op
        if op in ("+", "-"):
            return self._sum(node, top)
        if op == "*":
            a = self.terms(node.left, False)
            b = self.terms(node.right, False)
            return _merge(a, b, _product(a, b))
        if op == ":":
            return _product(self.terms(node.left, False), self.terms(node.right, False))
        if op == "/":
            a = self.terms(node.left, False)
            outer = frozenset().union(*a) if a else frozenset()
            b = self.terms(node.right, False)
            return _merge(a, [outer | t for t in b])
        if op == "%in%":
            a = self.terms(node.left, False)
            b = self.terms(node.right, False)
            outer = frozenset().union(*b) if b else frozenset()
            return _merge([t | outer for t in a])
        if op == "^":
            power = _unparen(node.right)
            whole = isinstance(power, Num) and power.value >= 1 and power.value % 1 == 0
            if not whole:
                raise self.fail(
                    f"'^' in a formula needs a positive whole number, not {deparse(node.right)}; "
                    "use I(...) for arithmetic, e.g. I(x^2)"
                )
            base = self.terms(node.left, False)
            result = base
            for _ in range(int(power.value) - 1):
                result = _merge(result, _product(result, base))
            return result
        raise AssertionError(op)  # pragma: no cover

    def spec(self, node: Node) -> ModelSpec:
        raw = self.terms(node, True)
        order = {label: i for i, label in enumerate(self.variables)}
        raw = [t for t in raw if t]
        raw.sort(key=len)  # stable: by order of interaction, then first appearance
        terms = tuple(tuple(sorted(t, key=order.__getitem__)) for t in raw)
        used = {v for t in terms for v in t}
        variables = tuple((k, v) for k, v in self.variables.items() if k in used)
        return ModelSpec(self.intercept, terms, variables, tuple(self.offsets.items()))


@lru_cache(maxsize=512)
def parse_expr(text: str) -> Node:
    """Parse one expression (no ``~``) into a syntax tree.

    Parameters
    ----------
    text : str
        For example ``"cbind(s, f)"`` or ``"1 + x"``.

    Returns
    -------
    Node
    """
    return _Parser(text).expression()


@lru_cache(maxsize=512)
def parse_rhs(text: str) -> ModelSpec:
    """Expand a right-hand side (without random-effect terms) into R's terms.

    Parameters
    ----------
    text : str
        For example ``"trt * sex"``, ``"0 + x"`` or ``"1"``.

    Returns
    -------
    ModelSpec
        Intercept flag, terms in R's order, variables and offsets.

    Examples
    --------
    >>> parse_rhs("(a + b + c)^2 - a:b").term_labels
    ('a', 'b', 'c', 'a:c', 'b:c')
    """
    return _Expander(text).spec(parse_expr(text))


# ---------------------------------------------------------------------------------------------
# random-effect terms
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomSpec:
    """One random-effect term after lme4's expansions.

    Attributes
    ----------
    expr : str
        The left side of the bar, printed as R does (``"1"``, ``"1 + x"``, ``"0 + x"``).
    group : str
        lme4's name of the grouping factor (``"id"``, ``"a:b"``, ``"b:a"`` for ``a/b``).
    correlated : bool
        False for the terms made from a double bar ``||``.
    """

    expr: str
    group: str
    correlated: bool = True

    @property
    def spec(self) -> ModelSpec:
        """The expanded terms of ``expr``."""
        return parse_rhs(self.expr)

    @property
    def factors(self) -> tuple[str, ...]:
        """The data columns whose interaction is the grouping factor, slowest first."""
        return group_factors(self.group)


def _group_components(node: Node, text: str) -> tuple[str, ...]:
    node = _unparen(node)
    if isinstance(node, Name):
        return (node.id,)
    if isinstance(node, BinOp) and node.op == ":":
        return _group_components(node.left, text) + _group_components(node.right, text)
    raise ValueError(
        f"unsupported grouping factor '{deparse(node)}' in {text!r}: use a column name, an "
        "interaction a:b, or nesting a/b (for crossed factors add two terms: (1|a) + (1|b))"
    )


@lru_cache(maxsize=512)
def group_factors(group: str) -> tuple[str, ...]:
    """The columns making up a grouping factor name such as ``"c:(b:a)"``.

    Parameters
    ----------
    group : str
        A grouping-factor name as in :attr:`RandomSpec.group`.

    Returns
    -------
    tuple of str
        The columns, slowest-varying first in the level order (``("c", "b", "a")``).
    """
    return _group_components(parse_expr(group), group)


def _expand_group(node: Node, text: str) -> list[str]:
    """lme4's expansion of nesting: ``a/b`` -> ``["b:a", "a"]``."""
    inner = _unparen(node)
    if isinstance(inner, BinOp) and inner.op == "/":
        outer = _expand_group(inner.left, text)
        right = deparse(inner.right)
        _group_components(inner.right, text)  # validates
        first = outer[0]
        nested = f"{right}:({first})" if ":" in first else f"{right}:{first}"
        return [nested, *outer]
    _group_components(inner, text)  # validates
    return [deparse(inner)]


def _random_specs(bar: BinOp, text: str) -> list[RandomSpec]:
    groups = _expand_group(bar.right, text)
    expr_node = bar.left
    if bar.op == "|":
        exprs = [(deparse(expr_node), True)]
    else:
        spec = _Expander(text).spec(expr_node)
        exprs = [("1", False)] if spec.intercept else []
        exprs += [("0 + " + label, False) for label in spec.term_labels]
        if not exprs:
            raise ValueError(f"the term '({deparse(bar)})' has no random effects (in {text!r})")
    out = []
    for expr, correlated in exprs:
        spec = parse_rhs(expr)  # validates the expression
        if not spec.intercept and not spec.terms:
            raise ValueError(
                f"the random-effect term '({deparse(bar)})' has no columns (in {text!r})"
            )
        if spec.offsets:
            raise ValueError(f"offset() cannot be used inside a random-effect term (in {text!r})")
        out.extend(RandomSpec(expr, g, correlated) for g in groups)
    return out


# ---------------------------------------------------------------------------------------------
# whole formula
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed lme4 formula.

    Attributes
    ----------
    response : str
        The left-hand side, e.g. ``"y"`` or ``"cbind(s, f)"``.
    fixed : str
        The right-hand side without the random-effect terms, printed as R does
        (``"trt * sex"``; ``"1"`` when only random terms remain).
    random : tuple of RandomSpec
        The random-effect terms in formula order after lme4's expansions (the design sorts
        them by number of levels).
    text : str
        The formula as given.
    """

    response: str
    fixed: str
    random: tuple[RandomSpec, ...]
    text: str = ""

    @property
    def fixed_spec(self) -> ModelSpec:
        """The expanded fixed part (intercept, terms, variables, offsets)."""
        return parse_rhs(self.fixed)

    @property
    def response_node(self) -> Node:
        """The syntax tree of the response."""
        return parse_expr(self.response)

    def __str__(self) -> str:
        bars = " + ".join(f"({r.expr} | {r.group})" for r in self.random)
        rhs = self.fixed if not bars else (bars if self.fixed == "1" else f"{self.fixed} + {bars}")
        return f"{self.response} ~ {rhs}"


def _flatten_sum(node: Node) -> list[tuple[str, Node]]:
    out: list[tuple[str, Node]] = []
    while isinstance(node, BinOp) and node.op in ("+", "-"):
        out.append((node.op, node.right))
        node = node.left
    if isinstance(node, Unary) and node.op in "+-":
        out.append((node.op, node.operand))
    else:
        out.append(("+", node))
    return out[::-1]


def _is_bar(node: Node) -> bool:
    return isinstance(node, Paren) and isinstance(node.expr, BinOp) and node.expr.op in ("|", "||")


def _contains_bar(node: Node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, BinOp):
            if n.op in ("|", "||"):
                return True
            stack.extend((n.left, n.right))
        elif isinstance(n, Paren):
            stack.append(n.expr)
        elif isinstance(n, Unary):
            stack.append(n.operand)
        elif isinstance(n, Call):
            stack.extend(n.args)
    return False


@lru_cache(maxsize=256)
def _parse_formula_cached(text: str) -> ParsedFormula:
    lhs, rhs = _Parser(text).formula()
    if lhs is None:
        raise ValueError(
            f"the formula {text!r} has no response: write the outcome left of '~', e.g. "
            "'y ~ x + (1 | id)'"
        )
    fixed_items: list[tuple[str, Node]] = []
    random: list[RandomSpec] = []
    for sign, item in _flatten_sum(rhs):
        if _is_bar(item):
            if sign == "-":
                raise ValueError(f"a random-effect term cannot be subtracted (in {text!r})")
            bar = item.expr
            assert isinstance(bar, BinOp)
            if _contains_bar(bar.left) or _contains_bar(bar.right):
                raise ValueError(f"nested bars in '{deparse(item)}' (in {text!r})")
            random.extend(_random_specs(bar, text))
        elif _contains_bar(item):
            raise ValueError(
                f"the random-effect term in '{deparse(item)}' must be in its own parentheses "
                f"and added at the top level, e.g. y ~ x + (1 | g) (in {text!r})"
            )
        else:
            fixed_items.append((sign, item))
    fixed_node: Node | None = None
    for sign, item in fixed_items:
        if fixed_node is None:
            fixed_node = item if sign == "+" else Unary("-", item)
        else:
            fixed_node = BinOp(sign, fixed_node, item)
    fixed = "1" if fixed_node is None else deparse(fixed_node)
    parse_rhs(fixed)  # expand now, so that errors surface at parse time
    response = deparse(lhs)
    return ParsedFormula(response, fixed, tuple(random), text)


def parse_formula(text: str) -> ParsedFormula:
    """Parse an lme4 model formula.

    Parameters
    ----------
    text : str
        For example ``"y ~ trt * sex + (1 | id)"``, ``"cbind(s, f) ~ x + (1 + x || g)"`` or
        ``"y ~ x + (1 | school/class)"``.

    Returns
    -------
    ParsedFormula
        ``response``, ``fixed`` and ``random`` (lme4's expansions applied).

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        If the formula has no ``~``, no response, or a syntax error (the message points at
        the position).

    Examples
    --------
    >>> f = parse_formula("y ~ x + (1 + x || g) + (1 | a/b)")
    >>> f.fixed
    'x'
    >>> [(r.expr, r.group) for r in f.random]
    [('1', 'g'), ('0 + x', 'g'), ('1', 'b:a'), ('1', 'a')]
    """
    _validate.check_formula_text(text)
    try:
        return _parse_formula_cached(text.strip())
    except RecursionError:  # pragma: no cover - the parser's nesting limit comes first
        raise ValueError(f"the formula is nested too deeply to be read ({len(text)} "
                         "characters); simplify it") from None
