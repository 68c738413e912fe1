"""The compiler of the JPQL engine: a syntax tree -> closures over a binding.

Aliases and paths are resolved against :mod:`~mxcubecore_lims.testing.icat.schema`
once; every value becomes ``getter(binding) -> value`` and every condition
``test(binding) -> True/False/None``, where a binding holds one row per
alias, root first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mxcubecore_lims.testing.icat.schema import ENTITIES, Attr, Entity, Many, One

from .errors import QueryError
from .graph import Binding, Graph, Row, follow
from .operators import COMPARATORS, FUNCTION_IMPLS, and_, and_values, compare_values, like_regex, not_, or_
from .syntax import (
    Between,
    BoolOp,
    Compare,
    Func,
    IncludeClause,
    InList,
    IsNull,
    JoinClause,
    Like,
    Literal,
    NotOp,
    Param,
    PathExpr,
    QueryAst,
)

__all__ = ["Compiled", "Compiler", "Getter", "IncludeTree", "Join", "PathInfo"]

Getter = Callable[[Binding], Any]


@dataclass
class Compiled:
    """An operand compiled to ``getter(binding) -> value``."""

    getter: Getter
    type: str
    level: int  # highest alias index the value depends on (-1: constant)


@dataclass
class PathInfo:
    """A resolved path: where it starts and which fields it follows."""

    index: int  # alias index
    entity: Entity
    steps: list[Attr | One | Many]


@dataclass
class Join:
    """A compiled JOIN: ``expand(row) -> related rows`` from alias ``source``."""

    source: int
    expand: Callable[[Row], list[Row]]
    left: bool


@dataclass
class IncludeTree:
    """Relations to include below one entity: field name -> subtree."""

    entity: Entity
    children: dict[str, IncludeTree] = field(default_factory=dict)


class Compiler:
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

    def resolve(self, path: PathExpr, aliases: dict[str, int], entities: list[Entity]) -> PathInfo:
        """Resolve ``alias.field.field`` to where it starts and the fields it follows.

        Args:
            path: The path.
            aliases: Alias -> its index in ``entities``.
            entities: The entity of each alias.

        Returns:
            The alias index, its entity and the fields followed.

        Raises:
            QueryError: The alias or a field is unknown, or a step follows an attribute.
        """
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
        return PathInfo(index, entity, steps)

    def value_path(self, path: PathExpr) -> Compiled:
        """A path used as a value: ONE relations only, ends in an attribute, relation or alias."""
        info = self.resolve(path, self.aliases, self.alias_entities)
        for step in info.steps:
            if isinstance(step, Many):
                raise QueryError(
                    f"'{step.name}' is a one-to-many relation: JOIN it to use '{path.text}' at offset {path.pos}"
                )
        return Compiled(self._path_getter(info), self._path_type(info), info.index)

    def _path_getter(self, info: PathInfo) -> Getter:
        graph, index = self.graph, info.index
        hops: list[tuple[str, str]] = []
        for step in info.steps[:-1]:
            if not isinstance(step, One):  # value_path refused MANY steps
                raise AssertionError(f"'{step.name}' is not a ONE relation")
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
    def _path_type(info: PathInfo) -> str:
        if not info.steps:
            return "Long"
        last = info.steps[-1]
        return last.type if isinstance(last, Attr) else "Long"

    # -- joins ------------------------------------------------------------

    def compile_join(self, join: JoinClause) -> Join:
        """Compile a JOIN and bind its alias (the next alias index).

        Raises:
            QueryError: The path is not a relation or the alias is taken.
        """
        info = self.resolve(join.path, self.aliases, self.alias_entities)
        if not info.steps or isinstance(info.steps[-1], Attr):
            raise QueryError(f"'{join.path.text}' at offset {join.path.pos} is not a relation and cannot be joined")
        if join.alias in self.aliases:
            raise QueryError(f"Duplicate alias '{join.alias}' at offset {join.alias_pos}")
        self.aliases[join.alias] = len(self.alias_entities)
        self.alias_entities.append(ENTITIES[info.steps[-1].target])
        return Join(info.index, self._expander(info), join.left)

    def _expander(self, info: PathInfo) -> Callable[[Row], list[Row]]:
        graph = self.graph
        hops: list[tuple[str, One | Many]] = []
        current = info.entity
        for step in info.steps:
            if isinstance(step, Attr):
                raise QueryError(f"Cannot join through attribute '{step.name}'")
            hops.append((current.name, step))
            current = ENTITIES[step.target]

        def expand(row: Row) -> list[Row]:
            rows = [row]
            for owner, step in hops:
                rows = [child for r in rows for child in follow(graph, owner, r, step)]
            return rows

        return expand

    # -- values and conditions --------------------------------------------

    def operand(self, expr: Any) -> Compiled:
        """Compile a value: a literal, ``:user``, a path or a function of a value.

        Raises:
            QueryError: ``expr`` is a condition, or names an unknown parameter or path.
        """
        if isinstance(expr, Literal):
            value = expr.value
            return Compiled(lambda _b: value, expr.type, -1)
        if isinstance(expr, Param):
            if expr.name != "user":
                raise QueryError(f"Unknown parameter ':{expr.name}' at offset {expr.pos}")
            user = self.user
            return Compiled(lambda _b: user, "String", -1)
        if isinstance(expr, PathExpr):
            return self.value_path(expr)
        if isinstance(expr, Func):
            return self.function(expr)
        raise QueryError(f"Expected a value, found a condition: {expr!r}")

    def function(self, expr: Func) -> Compiled:
        """Compile ``UPPER(x)`` and the like: NULL in, NULL out."""
        arg = self.operand(expr.arg)
        inner = arg.getter
        impl, result_type = FUNCTION_IMPLS[expr.name]
        if result_type is None:
            result_type = arg.type

        def getter(binding: Binding) -> Any:
            value = inner(binding)
            return None if value is None else impl(value)

        return Compiled(getter, result_type, arg.level)

    def condition(self, expr: Any) -> tuple[Callable[[Binding], bool | None], int]:
        """Compile a condition to ``test(binding) -> True/False/None`` and its level."""
        if isinstance(expr, BoolOp):
            parts = [self.condition(item) for item in expr.items]
            tests = [test for test, _ in parts]
            level = max(lvl for _, lvl in parts)
            return (and_(tests) if expr.op == "AND" else or_(tests)), level
        if isinstance(expr, NotOp):
            test, level = self.condition(expr.item)
            return (lambda b: not_(test(b))), level
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
        """Compile ``left op right``: unknown when either side is NULL."""
        left, right = self.operand(expr.left), self.operand(expr.right)
        get_left, get_right = left.getter, right.getter
        check = COMPARATORS[expr.op]
        op = expr.op

        def test(binding: Binding) -> bool | None:
            a, b = get_left(binding), get_right(binding)
            if a is None or b is None:
                return None
            return compare_values(check, a, b, op)

        return test, max(left.level, right.level)

    def like(self, expr: Like) -> tuple[Callable[[Binding], bool | None], int]:
        """Compile ``[NOT] LIKE``: unknown when the value or the pattern is NULL."""
        value, pattern = self.operand(expr.expr), self.operand(expr.pattern)
        get_value, get_pattern, negate = value.getter, pattern.getter, expr.negate
        cache: dict[str, re.Pattern[str]] = {}

        def test(binding: Binding) -> bool | None:
            text, pat = get_value(binding), get_pattern(binding)
            if text is None or pat is None:
                return None
            regex = cache.get(pat)
            if regex is None:
                regex = cache[pat] = like_regex(str(pat))
            return (regex.fullmatch(str(text)) is not None) != negate

        return test, max(value.level, pattern.level)

    def in_list(self, expr: InList) -> tuple[Callable[[Binding], bool | None], int]:
        """Compile ``[NOT] IN (...)``: unknown when no choice matches and one is NULL."""
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
                elif compare_values(COMPARATORS["="], current, choice, "IN"):
                    return not negate
            return None if unknown else negate

        return test, max([value.level, *(c.level for c in choices)])

    def between(self, expr: Between) -> tuple[Callable[[Binding], bool | None], int]:
        """Compile ``[NOT] BETWEEN low AND high`` as ``low <= value AND value <= high``."""
        value, low, high = (self.operand(e) for e in (expr.expr, expr.low, expr.high))
        get_value, get_low, get_high, negate = value.getter, low.getter, high.getter, expr.negate
        less_equal = COMPARATORS["<="]

        def test(binding: Binding) -> bool | None:
            current, lo, hi = get_value(binding), get_low(binding), get_high(binding)
            above = None if current is None or lo is None else compare_values(less_equal, lo, current, "BETWEEN")
            below = None if current is None or hi is None else compare_values(less_equal, current, hi, "BETWEEN")
            result = and_values(above, below)
            return not_(result) if negate else result

        return test, max(value.level, low.level, high.level)

    # -- includes ---------------------------------------------------------

    def include_tree(self, selected: Entity, alias: str) -> IncludeTree:
        """The relations INCLUDE asks for below the selected entity.

        Args:
            selected: The entity the query returns.
            alias: Its alias (the start of INCLUDE paths).

        Returns:
            The tree of relations to include.

        Raises:
            QueryError: An INCLUDE names an unknown alias or field, or an attribute.
        """
        tree = IncludeTree(selected)
        if self.ast.include_one:
            for one in selected.ones:
                tree.children[one.name] = IncludeTree(ENTITIES[one.target])
            return tree
        nodes: dict[str, IncludeTree] = {alias: tree}
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

    def _add_include(self, include: IncludeClause, nodes: dict[str, IncludeTree]) -> bool:
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
            node = node.children.setdefault(name, IncludeTree(ENTITIES[item.target]))
        if include.alias is not None:
            if include.alias in nodes:
                raise QueryError(f"Duplicate alias '{include.alias}' in INCLUDE at offset {path.pos}")
            nodes[include.alias] = node
        return True
