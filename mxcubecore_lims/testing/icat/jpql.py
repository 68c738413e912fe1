"""The query engine of the emulated ICAT server (reference ``icat.md`` §7b).

ICAT clients send searches as strings in ICAT's JPQL-like grammar, rendered
by python-icat's :class:`icat.query.Query`. This module parses such a string
once, compiles every path and condition into closures over a *binding* (one
row per alias, root first) and evaluates them against a :class:`Graph` of
plain-dict rows described by :mod:`.schema`.

Semantics chosen where the grammar leaves room:

* WHERE uses SQL three-valued logic: a comparison with ``NULL`` is
  *unknown*, ``NOT unknown`` stays unknown, and only rows whose condition is
  true are kept.
* ``LIKE`` is case-sensitive (use ``UPPER``/``LOWER`` for the other case).
* ``ORDER BY`` sorts ``NULL`` first for ``ASC`` and last for ``DESC``.
* Entity results are de-duplicated by id (first occurrence after ordering),
  as the ICAT server does when joins fan out; attribute results only with
  ``DISTINCT``.
* ``MIN``/``MAX``/``AVG``/``SUM`` over no (non-null) value yield no item.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .schema import ENTITIES, Attr, Entity, Many, One

__all__ = [
    "Graph",
    "NoSuchObjectError",
    "Node",
    "PrivilegesError",
    "QueryError",
    "Result",
    "get",
    "search",
]


class QueryError(Exception):
    """A query the server refuses (an ICAT ``BAD_PARAMETER`` fault)."""


class NoSuchObjectError(QueryError):
    """``get`` found no row with the requested id (``NO_SUCH_OBJECT_FOUND``)."""


class PrivilegesError(QueryError):
    """``get`` found a row the user may not read (``INSUFFICIENT_PRIVILEGES``)."""


class Graph(Protocol):
    """The store as the query engine sees it."""

    def rows(self, entity: str) -> Iterable[dict]:
        """All rows of ``entity``."""
        ...

    def get(self, entity: str, id: int) -> dict | None:
        """The row of ``entity`` with this id, or ``None``."""
        ...

    def children(self, entity: str, id: int, many: str) -> list[dict]:
        """The rows of the MANY relation ``many`` of row ``id`` of ``entity``."""
        ...


@dataclass
class Node:
    """One entity of a result, with the relations INCLUDE asked for.

    Attributes:
        entity: Entity name.
        row: The stored row (not a copy).
        includes: Relation name -> related node (ONE, ``None`` when unset or
            unreadable) or nodes ordered by id (MANY). Only included
            relations are present.
    """

    entity: str
    row: dict
    includes: dict[str, Node | list[Node] | None] = field(default_factory=dict)


@dataclass
class Result:
    """What a search returns.

    Attributes:
        kind: ``"entity"``, ``"value"`` or ``"tuple"``.
        items: :class:`Node` objects, plain values, or tuples of values.
        types: For ``value``/``tuple``: the Java type name of each column.
    """

    kind: str
    items: list
    types: list[str] = field(default_factory=list)


Readable = Callable[[str, dict], bool]
Binding = list  # one row (or None) per alias, in alias order

# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<ts>\{\s*ts\s+(?P<tsval>[^}]*)\})
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    | (?P<param>:[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[(),\-])
    """,
    re.VERBOSE,
)

#: Words that end an optional alias (never taken as one).
_KEYWORDS = frozenset(
    """SELECT DISTINCT FROM WHERE JOIN LEFT INNER OUTER FETCH AS ORDER BY ASC DESC
    INCLUDE LIMIT AND OR NOT LIKE IN IS NULL BETWEEN TRUE FALSE ESCAPE""".split()
)


@dataclass(frozen=True)
class Token:
    """One lexical token; ``pos`` is its character offset in the query."""

    kind: str  # name | string | number | ts | param | op | punct | end
    text: str
    pos: int
    value: Any = None

    def is_kw(self, *words: str) -> bool:
        """Whether this is one of the keywords ``words`` (any case)."""
        return self.kind == "name" and self.text.upper() in words


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            if text[pos] == "'":
                raise QueryError(f"Unterminated string literal at offset {pos}")
            raise QueryError(f"Unexpected character {text[pos]!r} at offset {pos}")
        kind = match.lastgroup
        if kind == "tsval":  # lastgroup names the innermost group that matched
            kind = "ts"
        if kind != "ws":
            tokens.append(_make_token(kind, match, pos))
        pos = match.end()
    tokens.append(Token("end", "<end of query>", len(text)))
    return tokens


def _make_token(kind: str, match: re.Match[str], pos: int) -> Token:
    raw = match.group(0)
    if kind == "string":
        return Token(kind, raw, pos, raw[1:-1].replace("''", "'"))
    if kind == "number":
        is_int = raw.isdigit()
        return Token(kind, raw, pos, int(raw) if is_int else float(raw))
    if kind == "ts":
        return Token(kind, raw, pos, _parse_timestamp(match.group("tsval"), pos))
    return Token(kind, raw, pos)


def _parse_timestamp(text: str, pos: int) -> datetime:
    # ICAT timestamps carry no zone: they are local time of the server.
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"Invalid timestamp literal {text.strip()!r} at offset {pos}") from None
    return value if value.tzinfo else value.astimezone()


# --------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PathExpr:
    """``alias`` or ``alias.field.field``."""

    text: str
    pos: int


@dataclass(frozen=True)
class Literal:
    """A constant; ``type`` is the Java type name (``"Null"`` for NULL)."""

    value: Any
    type: str


@dataclass(frozen=True)
class Param:
    """A named parameter such as ``:user``."""

    name: str
    pos: int


@dataclass(frozen=True)
class Func:
    """``UPPER(x)``, ``LOWER(x)``, ``LENGTH(x)``, ``TRIM(x)``, ``ABS(x)``."""

    name: str
    arg: Any
    pos: int


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Like:
    """``expr [NOT] LIKE pattern``."""

    expr: Any
    pattern: Any
    negate: bool


@dataclass(frozen=True)
class InList:
    """``expr [NOT] IN (values)``."""

    expr: Any
    values: tuple
    negate: bool


@dataclass(frozen=True)
class IsNull:
    """``expr IS [NOT] NULL``."""

    expr: Any
    negate: bool


@dataclass(frozen=True)
class Between:
    """``expr [NOT] BETWEEN low AND high``."""

    expr: Any
    low: Any
    high: Any
    negate: bool


@dataclass(frozen=True)
class BoolOp:
    """``AND``/``OR`` of several conditions."""

    op: str
    items: tuple


@dataclass(frozen=True)
class NotOp:
    """``NOT condition``."""

    item: Any


@dataclass(frozen=True)
class SelectItem:
    """One item of the SELECT list; ``aggregate`` is e.g. ``"COUNT"``."""

    path: PathExpr
    aggregate: str | None = None
    distinct: bool = False


@dataclass(frozen=True)
class JoinClause:
    """``[LEFT] JOIN path AS alias``."""

    path: PathExpr
    alias: str
    alias_pos: int
    left: bool


@dataclass(frozen=True)
class IncludeClause:
    """``path [AS alias]`` of INCLUDE."""

    path: PathExpr
    alias: str | None


@dataclass
class QueryAst:
    """A parsed query, aliases not yet resolved."""

    entity: str
    entity_pos: int
    alias: str
    select: list[SelectItem] | None = None  # None: the root entity (short form)
    distinct: bool = False
    joins: list[JoinClause] = field(default_factory=list)
    where: Any = None
    order: list[tuple[Any, bool]] = field(default_factory=list)  # (expr, descending)
    includes: list[IncludeClause] = field(default_factory=list)
    include_one: bool = False
    limit: tuple[int, int] | None = None


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------

_AGGREGATES = frozenset({"COUNT", "MIN", "MAX", "AVG", "SUM"})
_FUNCTIONS = frozenset({"UPPER", "LOWER", "LENGTH", "TRIM", "ABS"})


class _Parser:
    """Recursive-descent parser over the token list."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers ----------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept_kw(self, *words: str) -> bool:
        if self.tok.is_kw(*words):
            self.index += 1
            return True
        return False

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            self.fail(f"Expected {word}")
        return self.advance()

    def accept_punct(self, text: str) -> bool:
        if self.tok.kind == "punct" and self.tok.text == text:
            self.index += 1
            return True
        return False

    def expect_punct(self, text: str) -> None:
        if not self.accept_punct(text):
            self.fail(f"Expected '{text}'")

    def fail(self, what: str) -> None:
        token = self.tok
        raise QueryError(f"{what} but found '{token.text}' at offset {token.pos}")

    def name(self, what: str) -> Token:
        if self.tok.kind != "name" or self.tok.is_kw(*_KEYWORDS):
            self.fail(f"Expected {what}")
        return self.advance()

    def simple_name(self, what: str) -> Token:
        token = self.name(what)
        if "." in token.text:
            raise QueryError(f"Expected {what} but found '{token.text}' at offset {token.pos}")
        return token

    def optional_alias(self) -> Token | None:
        self.accept_kw("AS")
        token = self.tok
        if token.kind == "name" and "." not in token.text and not token.is_kw(*_KEYWORDS):
            return self.advance()
        return None

    # -- clauses ----------------------------------------------------------

    def parse(self) -> QueryAst:
        if self.tok.is_kw("SELECT"):
            ast = self.parse_select_from()
        else:
            ast = self.parse_short_from()
        self.parse_joins(ast)
        if self.accept_kw("WHERE"):
            ast.where = self.parse_or()
        if self.accept_kw("ORDER"):
            self.expect_kw("BY")
            ast.order = self.parse_order()
        self.parse_tail(ast)
        if self.tok.kind != "end":
            self.fail("Expected end of query")
        return ast

    def parse_select_from(self) -> QueryAst:
        self.advance()  # SELECT
        distinct = self.accept_kw("DISTINCT")
        items = [self.parse_select_item()]
        while self.accept_punct(","):
            items.append(self.parse_select_item())
        self.expect_kw("FROM")
        entity = self.simple_name("an entity name")
        alias = self.optional_alias()
        ast = QueryAst(entity.text, entity.pos, alias.text if alias else entity.text)
        ast.select, ast.distinct = items, distinct
        return ast

    def parse_select_item(self) -> SelectItem:
        token = self.tok
        if token.is_kw(*_AGGREGATES) and self.tokens[self.index + 1].text == "(":
            self.index += 2
            distinct = self.accept_kw("DISTINCT")
            path = self.parse_paren_path()
            self.expect_punct(")")
            return SelectItem(path, token.text.upper(), distinct)
        return SelectItem(self.parse_paren_path())

    def parse_paren_path(self) -> PathExpr:
        # python-icat renders DISTINCT(o.name) and COUNT(DISTINCT(o)).
        if self.accept_punct("("):
            path = self.parse_paren_path()
            self.expect_punct(")")
            return path
        token = self.name("a path")
        return PathExpr(token.text, token.pos)

    def parse_short_from(self) -> QueryAst:
        entity = self.simple_name("SELECT or an entity name")
        alias = self.optional_alias()
        # Without an alias, ICAT lets paths start with the entity name.
        return QueryAst(entity.text, entity.pos, alias.text if alias else entity.text)

    def parse_joins(self, ast: QueryAst) -> None:
        while True:
            left = False
            if self.accept_kw("LEFT"):
                left = True
                self.accept_kw("OUTER")
                self.expect_kw("JOIN")
            elif self.accept_kw("INNER"):
                self.expect_kw("JOIN")
            elif not self.accept_kw("JOIN"):
                return
            token = self.name("a join path")
            alias = self.optional_alias()
            if alias is None:
                self.fail("Expected an alias after the join path")
            ast.joins.append(JoinClause(PathExpr(token.text, token.pos), alias.text, alias.pos, left))

    def parse_order(self) -> list[tuple[Any, bool]]:
        items = []
        while True:
            expr = self.parse_operand()
            descending = False
            if self.accept_kw("DESC"):
                descending = True
            else:
                self.accept_kw("ASC")
            items.append((expr, descending))
            if not self.accept_punct(","):
                return items

    def parse_tail(self, ast: QueryAst) -> None:
        # python-icat renders INCLUDE before LIMIT; accept both orders.
        seen: set[str] = set()
        while self.tok.is_kw("INCLUDE", "LIMIT"):
            word = self.advance().text.upper()
            if word in seen:
                raise QueryError(f"Duplicate {word} clause at offset {self.tokens[self.index - 1].pos}")
            seen.add(word)
            if word == "INCLUDE":
                self.parse_include(ast)
            else:
                ast.limit = self.parse_limit()

    def parse_include(self, ast: QueryAst) -> None:
        if self.tok.kind == "number":
            if self.tok.value != 1:
                self.fail("Expected INCLUDE 1")
            self.advance()
            ast.include_one = True
            return
        while True:
            token = self.name("an include path")
            alias = self.optional_alias()
            ast.includes.append(IncludeClause(PathExpr(token.text, token.pos), alias.text if alias else None))
            if not self.accept_punct(","):
                return

    def parse_limit(self) -> tuple[int, int]:
        first = self.integer()
        if self.accept_punct(","):
            return first, self.integer()
        return 0, first

    def integer(self) -> int:
        if self.tok.kind != "number" or not isinstance(self.tok.value, int):
            self.fail("Expected a non-negative integer")
        return self.advance().value

    # -- conditions -------------------------------------------------------

    def parse_or(self) -> Any:
        items = [self.parse_and()]
        while self.accept_kw("OR"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Any:
        items = [self.parse_not()]
        while self.accept_kw("AND"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_not(self) -> Any:
        if self.accept_kw("NOT"):
            return NotOp(self.parse_not())
        return self.parse_predicate()

    def parse_predicate(self) -> Any:
        if self.tok.text == "(" and self._paren_holds_condition():
            self.advance()
            inner = self.parse_or()
            self.expect_punct(")")
            return inner
        left = self.parse_operand()
        if self.tok.kind == "op":
            op = self.advance().text
            return Compare("<>" if op == "!=" else op, left, self.parse_operand())
        if self.accept_kw("IS"):
            negate = self.accept_kw("NOT")
            self.expect_kw("NULL")
            return IsNull(left, negate)
        negate = self.accept_kw("NOT")
        if self.accept_kw("LIKE"):
            return Like(left, self.parse_operand(), negate)
        if self.accept_kw("IN"):
            return InList(left, self.parse_in_values(), negate)
        if self.accept_kw("BETWEEN"):
            low = self.parse_operand()
            self.expect_kw("AND")
            return Between(left, low, self.parse_operand(), negate)
        self.fail("Expected a comparison operator, LIKE, IN, IS or BETWEEN")
        raise AssertionError  # unreachable: fail() raises

    def _paren_holds_condition(self) -> bool:
        # "(" opens a condition unless it wraps a bare operand, e.g. "(o.a) = 1".
        depth = 0
        for token in self.tokens[self.index :]:
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and (
                token.kind == "op" or token.is_kw("AND", "OR", "NOT", "LIKE", "IN", "IS", "BETWEEN")
            ):
                return True
            elif token.kind == "end":
                return True
        return True

    def parse_in_values(self) -> tuple:
        self.expect_punct("(")
        values = [self.parse_operand()]
        while self.accept_punct(","):
            values.append(self.parse_operand())
        self.expect_punct(")")
        return tuple(values)

    def parse_operand(self) -> Any:
        token = self.tok
        if token.kind == "string":
            self.advance()
            return Literal(token.value, "String")
        if token.kind == "number":
            self.advance()
            return Literal(token.value, "Long" if isinstance(token.value, int) else "Double")
        if token.kind == "punct" and token.text == "-":
            self.advance()
            if self.tok.kind != "number":
                self.fail("Expected a number after '-'")
            number = self.advance()
            return Literal(-number.value, "Long" if isinstance(number.value, int) else "Double")
        if token.kind == "ts":
            self.advance()
            return Literal(token.value, "Date")
        if token.kind == "param":
            self.advance()
            return Param(token.text[1:], token.pos)
        if token.is_kw("TRUE", "FALSE"):
            self.advance()
            return Literal(token.text.upper() == "TRUE", "Boolean")
        if token.is_kw("NULL"):
            self.advance()
            return Literal(None, "Null")
        if token.is_kw(*_FUNCTIONS) and self.tokens[self.index + 1].text == "(":
            self.index += 2
            arg = self.parse_operand()
            self.expect_punct(")")
            return Func(token.text.upper(), arg, token.pos)
        if self.accept_punct("("):
            inner = self.parse_operand()
            self.expect_punct(")")
            return inner
        name = self.name("a value")
        return PathExpr(name.text, name.pos)


# --------------------------------------------------------------------------
# Compilation: resolve aliases and paths into closures
# --------------------------------------------------------------------------

Getter = Callable[[Binding], Any]


@dataclass
class _Compiled:
    """An operand compiled to ``getter(binding) -> value``."""

    getter: Getter
    type: str
    level: int  # highest alias index the value depends on (-1: constant)


@dataclass
class _PathInfo:
    """A resolved path: where it starts and which fields it follows."""

    index: int  # alias index
    entity: Entity
    steps: list[Attr | One | Many]


@dataclass
class _Join:
    """A compiled JOIN: ``expand(row) -> related rows`` from alias ``source``."""

    source: int
    expand: Callable[[dict], list[dict]]
    left: bool


@dataclass
class _IncludeTree:
    """Relations to include below one entity: field name -> subtree."""

    entity: Entity
    children: dict[str, _IncludeTree] = field(default_factory=dict)


class _Compiler:
    """Turns a :class:`QueryAst` into closures bound to one graph and user."""

    def __init__(self, ast: QueryAst, graph: Graph, user: str) -> None:
        self.ast = ast
        self.graph = graph
        self.user = user
        root = ENTITIES.get(ast.entity)
        if root is None:
            raise QueryError(f"Unknown entity '{ast.entity}' at offset {ast.entity_pos}")
        self.aliases: dict[str, int] = {ast.alias: 0}
        self.alias_entities: list[Entity] = [root]
        self.joins = [self.compile_join(join) for join in ast.joins]

    # -- paths ------------------------------------------------------------

    def resolve(self, path: PathExpr, aliases: dict[str, int], entities: list[Entity]) -> _PathInfo:
        head, *fields = path.text.split(".")
        index = aliases.get(head)
        if index is None:
            raise QueryError(f"Unknown alias '{head}' in '{path.text}' at offset {path.pos}")
        entity = entities[index]
        steps: list[Attr | One | Many] = []
        current: Entity | None = entity
        for name in fields:
            if current is None:
                raise QueryError(
                    f"'{steps[-1].name}' is not a relation, cannot follow '{name}' "
                    f"in '{path.text}' at offset {path.pos}"
                )
            item = current.field(name)
            if item is None:
                raise QueryError(f"Unknown field '{name}' of {current.name} in '{path.text}' at offset {path.pos}")
            steps.append(item)
            current = None if isinstance(item, Attr) else ENTITIES[item.target]
        return _PathInfo(index, entity, steps)

    def value_path(self, path: PathExpr) -> _Compiled:
        """A path used as a value: ONE relations only, ends in an attribute, relation or alias."""
        info = self.resolve(path, self.aliases, self.alias_entities)
        for step in info.steps:
            if isinstance(step, Many):
                raise QueryError(
                    f"'{step.name}' is a one-to-many relation: JOIN it to use '{path.text}' at offset {path.pos}"
                )
        return _Compiled(self._path_getter(info), self._path_type(info), info.index)

    def _path_getter(self, info: _PathInfo) -> Getter:
        graph, index = self.graph, info.index
        hops: list[tuple[str, str]] = []
        for step in info.steps[:-1]:
            assert isinstance(step, One)  # value_path refused MANY steps
            hops.append((step.name, step.target))
        # A path ending at an entity (alias or relation) stands for its id.
        last = info.steps[-1].name if info.steps else "id"

        def getter(binding: Binding) -> Any:
            row = binding[index]
            for name, target in hops:
                if row is None:
                    return None
                related = row.get(name)
                row = graph.get(target, related) if related is not None else None
            return None if row is None else row.get(last)

        return getter

    @staticmethod
    def _path_type(info: _PathInfo) -> str:
        if not info.steps:
            return "Long"
        last = info.steps[-1]
        return last.type if isinstance(last, Attr) else "Long"

    # -- joins ------------------------------------------------------------

    def compile_join(self, join: JoinClause) -> _Join:
        info = self.resolve(join.path, self.aliases, self.alias_entities)
        if not info.steps or isinstance(info.steps[-1], Attr):
            raise QueryError(f"'{join.path.text}' at offset {join.path.pos} is not a relation and cannot be joined")
        if join.alias in self.aliases:
            raise QueryError(f"Duplicate alias '{join.alias}' at offset {join.alias_pos}")
        self.aliases[join.alias] = len(self.alias_entities)
        self.alias_entities.append(ENTITIES[info.steps[-1].target])  # type: ignore[union-attr]
        return _Join(info.index, self._expander(info), join.left)

    def _expander(self, info: _PathInfo) -> Callable[[dict], list[dict]]:
        graph = self.graph
        hops: list[tuple[str, One | Many]] = []
        current = info.entity
        for step in info.steps:
            if isinstance(step, Attr):
                raise QueryError(f"Cannot join through attribute '{step.name}'")
            hops.append((current.name, step))
            current = ENTITIES[step.target]

        def expand(row: dict) -> list[dict]:
            rows = [row]
            for owner, step in hops:
                rows = [child for r in rows for child in _follow(graph, owner, r, step)]
            return rows

        return expand

    # -- values and conditions --------------------------------------------

    def operand(self, expr: Any) -> _Compiled:
        if isinstance(expr, Literal):
            value = expr.value
            return _Compiled(lambda _b: value, expr.type, -1)
        if isinstance(expr, Param):
            if expr.name != "user":
                raise QueryError(f"Unknown parameter ':{expr.name}' at offset {expr.pos}")
            user = self.user
            return _Compiled(lambda _b: user, "String", -1)
        if isinstance(expr, PathExpr):
            return self.value_path(expr)
        if isinstance(expr, Func):
            return self.function(expr)
        raise QueryError(f"Expected a value, found a condition: {expr!r}")

    def function(self, expr: Func) -> _Compiled:
        arg = self.operand(expr.arg)
        inner = arg.getter
        impl, result_type = _FUNCTION_IMPLS[expr.name]
        if result_type is None:
            result_type = arg.type

        def getter(binding: Binding) -> Any:
            value = inner(binding)
            return None if value is None else impl(value)

        return _Compiled(getter, result_type, arg.level)

    def condition(self, expr: Any) -> tuple[Callable[[Binding], bool | None], int]:
        """Compile a condition to ``test(binding) -> True/False/None`` and its level."""
        if isinstance(expr, BoolOp):
            parts = [self.condition(item) for item in expr.items]
            tests = [test for test, _ in parts]
            level = max(lvl for _, lvl in parts)
            return (_and(tests) if expr.op == "AND" else _or(tests)), level
        if isinstance(expr, NotOp):
            test, level = self.condition(expr.item)
            return (lambda b: _not(test(b))), level
        if isinstance(expr, Compare):
            return self.compare(expr)
        if isinstance(expr, IsNull):
            value = self.operand(expr.expr)
            get_value, negate = value.getter, expr.negate
            return (lambda b: (get_value(b) is None) != negate), value.level
        if isinstance(expr, Like):
            return self.like(expr)
        if isinstance(expr, InList):
            return self.in_list(expr)
        if isinstance(expr, Between):
            return self.between(expr)
        raise QueryError(f"Expected a condition, found a value: {expr!r}")

    def compare(self, expr: Compare) -> tuple[Callable[[Binding], bool | None], int]:
        left, right = self.operand(expr.left), self.operand(expr.right)
        get_left, get_right = left.getter, right.getter
        check = _COMPARATORS[expr.op]
        op = expr.op

        def test(binding: Binding) -> bool | None:
            a, b = get_left(binding), get_right(binding)
            if a is None or b is None:
                return None
            return _compare_values(check, a, b, op)

        return test, max(left.level, right.level)

    def like(self, expr: Like) -> tuple[Callable[[Binding], bool | None], int]:
        value, pattern = self.operand(expr.expr), self.operand(expr.pattern)
        get_value, get_pattern, negate = value.getter, pattern.getter, expr.negate
        cache: dict[str, re.Pattern[str]] = {}

        def test(binding: Binding) -> bool | None:
            text, pat = get_value(binding), get_pattern(binding)
            if text is None or pat is None:
                return None
            regex = cache.get(pat)
            if regex is None:
                regex = cache[pat] = _like_regex(str(pat))
            return (regex.fullmatch(str(text)) is not None) != negate

        return test, max(value.level, pattern.level)

    def in_list(self, expr: InList) -> tuple[Callable[[Binding], bool | None], int]:
        value = self.operand(expr.expr)
        choices = [self.operand(item) for item in expr.values]
        get_value, negate = value.getter, expr.negate
        getters = [choice.getter for choice in choices]

        def test(binding: Binding) -> bool | None:
            current = get_value(binding)
            if current is None:
                return None
            unknown = False
            for get_choice in getters:
                choice = get_choice(binding)
                if choice is None:
                    unknown = True
                elif _compare_values(_COMPARATORS["="], current, choice, "IN"):
                    return not negate
            return None if unknown else negate

        return test, max([value.level, *(c.level for c in choices)])

    def between(self, expr: Between) -> tuple[Callable[[Binding], bool | None], int]:
        value, low, high = (self.operand(e) for e in (expr.expr, expr.low, expr.high))
        get_value, get_low, get_high, negate = value.getter, low.getter, high.getter, expr.negate
        less_equal = _COMPARATORS["<="]

        def test(binding: Binding) -> bool | None:
            current, lo, hi = get_value(binding), get_low(binding), get_high(binding)
            above = None if current is None or lo is None else _compare_values(less_equal, lo, current, "BETWEEN")
            below = None if current is None or hi is None else _compare_values(less_equal, current, hi, "BETWEEN")
            result = _and_values(above, below)
            return _not(result) if negate else result

        return test, max(value.level, low.level, high.level)

    # -- includes ---------------------------------------------------------

    def include_tree(self, selected: Entity, alias: str) -> _IncludeTree:
        tree = _IncludeTree(selected)
        if self.ast.include_one:
            for one in selected.ones:
                tree.children[one.name] = _IncludeTree(ENTITIES[one.target])
            return tree
        nodes: dict[str, _IncludeTree] = {alias: tree}
        pending = list(self.ast.includes)
        # python-icat sorts includes by their unsubstituted names, so an
        # alias may be used before the clause defining it: resolve in rounds.
        while pending:
            unresolved = [inc for inc in pending if not self._add_include(inc, nodes)]
            if len(unresolved) == len(pending):
                path = unresolved[0].path
                head = path.text.split(".")[0]
                raise QueryError(f"Unknown alias '{head}' in INCLUDE '{path.text}' at offset {path.pos}")
            pending = unresolved
        return tree

    def _add_include(self, include: IncludeClause, nodes: dict[str, _IncludeTree]) -> bool:
        path = include.path
        head, *fields = path.text.split(".")
        node = nodes.get(head)
        if node is None:
            return False
        if not fields:
            raise QueryError(f"INCLUDE '{path.text}' at offset {path.pos} names no relation")
        for name in fields:
            item = node.entity.field(name)
            if item is None:
                raise QueryError(f"Unknown field '{name}' of {node.entity.name} in '{path.text}' at offset {path.pos}")
            if isinstance(item, Attr):
                raise QueryError(f"'{name}' in INCLUDE '{path.text}' at offset {path.pos} is not a relation")
            node = node.children.setdefault(name, _IncludeTree(ENTITIES[item.target]))
        if include.alias is not None:
            if include.alias in nodes:
                raise QueryError(f"Duplicate alias '{include.alias}' in INCLUDE at offset {path.pos}")
            nodes[include.alias] = node
        return True


def _follow(graph: Graph, owner: str, row: dict | None, step: One | Many) -> list[dict]:
    """The rows reached from ``row`` (of entity ``owner``) through ``step``."""
    if row is None:
        return []
    if isinstance(step, One):
        related = row.get(step.name)
        target = graph.get(step.target, related) if related is not None else None
        return [] if target is None else [target]
    return list(graph.children(owner, row["id"], step.name))


_FUNCTION_IMPLS: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    "UPPER": (lambda v: str(v).upper(), "String"),
    "LOWER": (lambda v: str(v).lower(), "String"),
    "TRIM": (lambda v: str(v).strip(), "String"),
    "LENGTH": (lambda v: len(str(v)), "Integer"),
    "ABS": (abs, None),
}

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    return type(a) is type(b) or (isinstance(a, datetime) and isinstance(b, datetime))


def _compare_values(check: Callable[[Any, Any], bool], a: Any, b: Any, op: str) -> bool:
    if not _comparable(a, b):
        raise QueryError(f"Cannot compare {type(a).__name__} value {a!r} with {type(b).__name__} value {b!r} ({op})")
    if isinstance(a, datetime):
        a, b = _aware(a), _aware(b)
    return check(a, b)


def _aware(value: datetime) -> datetime:
    # Naive datetimes are local time, like the {ts ...} literals.
    return value if value.tzinfo else value.astimezone()


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _and(tests: list[Callable[[Binding], bool | None]]) -> Callable[[Binding], bool | None]:
    def test(binding: Binding) -> bool | None:
        result: bool | None = True
        for part in tests:
            value = part(binding)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return test


def _or(tests: list[Callable[[Binding], bool | None]]) -> Callable[[Binding], bool | None]:
    def test(binding: Binding) -> bool | None:
        result: bool | None = False
        for part in tests:
            value = part(binding)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return test


def _and_values(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


@dataclass
class _Plan:
    """Everything compiled for one query."""

    compiler: _Compiler
    root: Entity
    joins: list[_Join]
    # conditions[level]: AND-ed conditions checkable once alias ``level`` is bound
    conditions: list[list[Callable[[Binding], bool | None]]]
    order: list[tuple[Getter, bool]]


def _parse(text: str) -> QueryAst:
    if not isinstance(text, str) or not text.strip():
        raise QueryError("Empty query")
    return _Parser(text).parse()


def _plan(ast: QueryAst, graph: Graph, user: str) -> _Plan:
    compiler = _Compiler(ast, graph, user)
    levels: list[list[Callable[[Binding], bool | None]]] = [[] for _ in compiler.alias_entities]
    # Check each top-level conjunct as soon as its aliases are bound, so a
    # condition on the root prunes rows before any join fans them out.
    conjuncts = ast.where.items if isinstance(ast.where, BoolOp) and ast.where.op == "AND" else [ast.where]
    for conjunct in conjuncts:
        if conjunct is not None:
            test, level = compiler.condition(conjunct)
            levels[max(level, 0)].append(test)
    order = []
    for expr, descending in ast.order:
        compiled = compiler.operand(expr)
        order.append((compiled.getter, descending))
    return _Plan(compiler, compiler.alias_entities[0], compiler.joins, levels, order)


def _bindings(plan: _Plan, graph: Graph, readable: Readable) -> Iterator[Binding]:
    """Every binding that passes WHERE, in root/join order."""
    root_name = plan.root.name
    root_tests = plan.conditions[0]
    for row in graph.rows(root_name):
        if not readable(root_name, row):
            continue
        binding: Binding = [row]
        if all(test(binding) is True for test in root_tests):
            yield from _extend(plan, binding, 0)


def _extend(plan: _Plan, binding: Binding, done: int) -> Iterator[Binding]:
    if done == len(plan.joins):
        yield binding
        return
    join = plan.joins[done]
    level = done + 1
    source = binding[join.source]
    related = join.expand(source) if source is not None else []
    if not related:
        if not join.left:
            return
        related = [None]  # type: ignore[list-item]
    tests = plan.conditions[level]
    for row in related:
        extended = [*binding, row]
        if all(test(extended) is True for test in tests):
            yield from _extend(plan, extended, level)


def _sort(bindings: list[Binding], order: list[tuple[Getter, bool]]) -> list[Binding]:
    # Stable sorts from the last key to the first give a multi-key order.
    for getter, descending in reversed(order):
        bindings.sort(key=lambda b, g=getter: _sort_key(g(b)), reverse=descending)
    return bindings


def _sort_key(value: Any) -> tuple:
    # NULL sorts before every value (after them when reversed for DESC).
    if value is None:
        return (0, 0)
    if isinstance(value, datetime):
        return (1, _aware(value))
    return (1, value)


def _limit(items: list, limit: tuple[int, int] | None) -> list:
    if limit is None:
        return items
    skip, count = limit
    return items[skip : skip + count]


def _unique(items: Iterable, key: Callable[[Any], Any] = lambda item: item) -> list:
    seen: set = set()
    result = []
    for item in items:
        marker = key(item)
        if marker not in seen:
            seen.add(marker)
            result.append(item)
    return result


def _build_node(entity: Entity, row: dict, tree: _IncludeTree, graph: Graph, readable: Readable) -> Node:
    node = Node(entity.name, row, {})
    for name, subtree in tree.children.items():
        item = entity.field(name)
        assert isinstance(item, One | Many)  # include_tree only adds relations
        target = subtree.entity.name
        related = [r for r in _follow(graph, entity.name, row, item) if readable(target, r)]
        children = [_build_node(subtree.entity, r, subtree, graph, readable) for r in related]
        if isinstance(item, One):
            node.includes[name] = children[0] if children else None
        else:
            node.includes[name] = sorted(children, key=lambda n: n.row["id"])
    return node


def search(text: str, graph: Graph, *, user: str, readable: Readable) -> Result:
    """Evaluate an ICAT search query.

    Args:
        text: The query, as python-icat renders it (or an ICAT short form).
        graph: The rows to search.
        user: Value of the ``:user`` parameter, e.g. ``"simple/jdoe"``.
        readable: ``readable(entity, row)``: whether the user may see a row.
            Applied to root rows and to included rows.

    Returns:
        The entities, values or tuples found.

    Raises:
        QueryError: The query is malformed or names unknown things.
    """
    ast = _parse(text)
    plan = _plan(ast, graph, user)
    if ast.select is not None and (len(ast.select) > 1 or ast.select[0].aggregate or "." in ast.select[0].path.text):
        if ast.includes or ast.include_one:
            raise QueryError("INCLUDE is only allowed when selecting entities")
        return _value_search(ast, plan, graph, readable)
    return _entity_search(ast, plan, graph, readable)


def _selected_alias(ast: QueryAst, compiler: _Compiler) -> tuple[int, Entity, str]:
    if ast.select is None:
        return 0, compiler.alias_entities[0], ast.alias
    path = ast.select[0].path
    index = compiler.aliases.get(path.text)
    if index is None:
        raise QueryError(f"Unknown alias '{path.text}' in SELECT at offset {path.pos}")
    return index, compiler.alias_entities[index], path.text


def _entity_search(ast: QueryAst, plan: _Plan, graph: Graph, readable: Readable) -> Result:
    index, entity, alias = _selected_alias(ast, plan.compiler)
    tree = plan.compiler.include_tree(entity, alias)
    bindings = _sort(list(_bindings(plan, graph, readable)), plan.order)
    rows = [b[index] for b in bindings if b[index] is not None]
    if index != 0:
        rows = [row for row in rows if readable(entity.name, row)]
    rows = _limit(_unique(rows, key=lambda row: row["id"]), ast.limit)
    return Result("entity", [_build_node(entity, row, tree, graph, readable) for row in rows])


def _value_search(ast: QueryAst, plan: _Plan, graph: Graph, readable: Readable) -> Result:
    assert ast.select is not None
    items = ast.select
    if any(item.aggregate for item in items):
        if len(items) > 1:
            raise QueryError("An aggregate function must be the only item of SELECT")
        bindings = list(_bindings(plan, graph, readable))
        value, java_type = _aggregate(items[0], plan.compiler, bindings)
        return Result("value", _limit([] if value is None else [value], ast.limit), [java_type])
    columns = [plan.compiler.value_path(item.path) for item in items]
    bindings = _sort(list(_bindings(plan, graph, readable)), plan.order)
    types = [column.type for column in columns]
    if len(columns) == 1:
        get_value = columns[0].getter
        values: list = [get_value(b) for b in bindings]
        kind = "value"
    else:
        getters = [column.getter for column in columns]
        values = [tuple(g(b) for g in getters) for b in bindings]
        kind = "tuple"
    if ast.distinct:
        values = _unique(values)
    return Result(kind, _limit(values, ast.limit), types)


def _aggregate(item: SelectItem, compiler: _Compiler, bindings: list[Binding]) -> tuple[Any, str]:
    column = compiler.value_path(item.path)
    values = [v for v in (column.getter(b) for b in bindings) if v is not None]
    if item.distinct:
        values = _unique(values)
    function = item.aggregate
    if function == "COUNT":
        return len(values), "Long"
    is_entity = "." not in item.path.text
    if is_entity or column.type in ("Boolean",):
        raise QueryError(f"{function} cannot be applied to '{item.path.text}' at offset {item.path.pos}")
    if function in ("SUM", "AVG") and column.type not in ("Long", "Integer", "Double"):
        raise QueryError(f"{function} needs a numeric attribute, not '{item.path.text}' at offset {item.path.pos}")
    if not values:
        return None, _aggregate_type(function, column.type)
    if function == "MIN":
        return min(values, key=_sort_key), column.type
    if function == "MAX":
        return max(values, key=_sort_key), column.type
    if function == "SUM":
        return sum(values), _aggregate_type(function, column.type)
    return sum(values) / len(values), "Double"


def _aggregate_type(function: str | None, attr_type: str) -> str:
    if function == "AVG":
        return "Double"
    if function == "SUM" and attr_type == "Integer":
        return "Long"  # JPA sums integral types as Long
    return attr_type


def get(text: str, id: int, graph: Graph, *, user: str, readable: Readable) -> Node:
    """Evaluate an ICAT ``get``: one entity by id, with its INCLUDEs.

    Args:
        text: ``"Investigation"``, ``"Investigation INCLUDE 1"``,
            ``"Dataset ds INCLUDE ds.investigation"`` or a full
            ``SELECT o FROM ... INCLUDE ...`` without other clauses.
        id: The row id.
        graph: The rows.
        user: Value of ``:user``.
        readable: The authorization filter, see :func:`search`.

    Returns:
        The entity with what INCLUDE asked for.

    Raises:
        NoSuchObjectError: No row has this id.
        PrivilegesError: The user may not read the row.
        QueryError: The query is malformed or not a plain entity query.
    """
    ast = _parse(text)
    if ast.joins or ast.where is not None or ast.order or ast.limit is not None:
        raise QueryError("get accepts only an entity and INCLUDE, not JOIN, WHERE, ORDER BY or LIMIT")
    select = ast.select
    if select is not None and (len(select) != 1 or select[0].aggregate or select[0].path.text != ast.alias):
        raise QueryError(f"get must select the entity alias '{ast.alias}'")
    compiler = _Compiler(ast, graph, user)
    entity = compiler.alias_entities[0]
    tree = compiler.include_tree(entity, ast.alias)
    row = graph.get(entity.name, id)
    if row is None:
        raise NoSuchObjectError(f"{entity.name}[id:{id}] not found")
    if not readable(entity.name, row):
        raise PrivilegesError(f"Read access to {entity.name}[id:{id}] is not allowed")
    return _build_node(entity, row, tree, graph, readable)
