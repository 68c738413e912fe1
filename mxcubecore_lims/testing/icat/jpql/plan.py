"""The query plan of the JPQL engine: the bindings a query's FROM, JOIN, WHERE and ORDER BY yield."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mxcubecore_lims.testing.icat.schema import Entity

from .compiler import Compiler, Getter, Join
from .graph import Binding, Graph, Readable, Row
from .operators import sort_key
from .syntax import BoolOp, QueryAst

__all__ = ["Plan", "iter_bindings", "make_plan", "sort_bindings"]


@dataclass
class Plan:
    """Everything compiled for one query."""

    compiler: Compiler
    root: Entity
    joins: list[Join]
    # conditions[level]: AND-ed conditions checkable once alias ``level`` is bound
    conditions: list[list[Callable[[Binding], bool | None]]]
    order: list[tuple[Getter, bool]]


def make_plan(ast: QueryAst, graph: Graph, user: str) -> Plan:
    """Compile a parsed query for one graph and user.

    Args:
        ast: The parsed query.
        graph: The rows it will run over.
        user: Value of the ``:user`` parameter.

    Returns:
        The compiled joins, conditions (by the alias they wait for) and order.

    Raises:
        QueryError: The query names unknown things.
    """
    compiler = Compiler(ast, graph, user)
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
    return Plan(compiler, compiler.alias_entities[0], compiler.joins, levels, order)


def iter_bindings(plan: Plan, graph: Graph, readable: Readable) -> Iterator[Binding]:
    """Every binding that passes WHERE, in root/join order.

    Args:
        plan: The compiled query.
        graph: The rows.
        readable: Whether the user may see a root row.

    Yields:
        One row (``None`` for an unmatched LEFT JOIN) per alias.
    """
    root_name = plan.root.name
    root_tests = plan.conditions[0]
    for row in graph.rows(root_name):
        if not readable(root_name, row):
            continue
        binding: Binding = [row]
        if all(test(binding) is True for test in root_tests):
            yield from _extend(plan, binding, 0)


def _extend(plan: Plan, binding: Binding, done: int) -> Iterator[Binding]:
    if done == len(plan.joins):
        yield binding
        return
    join = plan.joins[done]
    level = done + 1
    source = binding[join.source]
    related: Sequence[Row | None] = join.expand(source) if source is not None else []
    if not related:
        if not join.left:
            return
        related = [None]
    tests = plan.conditions[level]
    for row in related:
        extended = [*binding, row]
        if all(test(extended) is True for test in tests):
            yield from _extend(plan, extended, level)


def sort_bindings(bindings: list[Binding], order: list[tuple[Getter, bool]]) -> list[Binding]:
    """Sort ``bindings`` in place by ORDER BY (``(getter, descending)`` per key) and return them."""
    # Stable sorts from the last key to the first give a multi-key order.
    for getter, descending in reversed(order):
        bindings.sort(key=_key(getter), reverse=descending)
    return bindings


def _key(getter: Getter) -> Callable[[Binding], tuple[int, Any]]:
    return lambda binding: sort_key(getter(binding))
