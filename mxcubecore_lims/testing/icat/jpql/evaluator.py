"""The evaluator of the JPQL engine: run ``search`` and ``get`` against a graph and shape their results."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from mxcubecore_lims.testing.icat.schema import Entity, Many, One

from .compiler import Compiler, IncludeTree
from .errors import NoSuchObjectError, PrivilegesError, QueryError
from .graph import Binding, Graph, Readable, Row, follow
from .operators import sort_key
from .parser import parse
from .plan import Plan, iter_bindings, make_plan, sort_bindings
from .results import Node, Result
from .syntax import QueryAst, SelectItem

__all__ = ["get", "search"]

_T = TypeVar("_T")


def _limit(items: list[_T], limit: tuple[int, int] | None) -> list[_T]:
    if limit is None:
        return items
    skip, count = limit
    return items[skip : skip + count]


def _unique(items: Iterable[_T], key: Callable[[_T], Any] = lambda item: item) -> list[_T]:
    seen: set[Any] = set()
    result = []
    for item in items:
        marker = key(item)
        if marker not in seen:
            seen.add(marker)
            result.append(item)
    return result


def _build_node(entity: Entity, row: Row, tree: IncludeTree, graph: Graph, readable: Readable) -> Node:
    node = Node(entity.name, row, {})
    for name, subtree in tree.children.items():
        item = entity.field(name)
        if not isinstance(item, One | Many):  # include_tree only adds relations
            raise AssertionError(f"'{name}' is not a relation of {entity.name}")
        target = subtree.entity.name
        related = [r for r in follow(graph, entity.name, row, item) if readable(target, r)]
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
    ast = parse(text)
    plan = make_plan(ast, graph, user)
    if ast.select is not None and (len(ast.select) > 1 or ast.select[0].aggregate or "." in ast.select[0].path.text):
        if ast.includes or ast.include_one:
            raise QueryError("INCLUDE is only allowed when selecting entities")
        return _value_search(ast, plan, graph, readable)
    return _entity_search(ast, plan, graph, readable)


def _selected_alias(ast: QueryAst, compiler: Compiler) -> tuple[int, Entity, str]:
    if ast.select is None:
        return 0, compiler.alias_entities[0], ast.alias
    path = ast.select[0].path
    index = compiler.aliases.get(path.text)
    if index is None:
        raise QueryError(f"Unknown alias '{path.text}' in SELECT at offset {path.pos}")
    return index, compiler.alias_entities[index], path.text


def _entity_search(ast: QueryAst, plan: Plan, graph: Graph, readable: Readable) -> Result:
    index, entity, alias = _selected_alias(ast, plan.compiler)
    tree = plan.compiler.include_tree(entity, alias)
    bindings = sort_bindings(list(iter_bindings(plan, graph, readable)), plan.order)
    rows = [row for row in (b[index] for b in bindings) if row is not None]
    if index != 0:
        rows = [row for row in rows if readable(entity.name, row)]
    rows = _limit(_unique(rows, key=lambda row: row["id"]), ast.limit)
    return Result("entity", [_build_node(entity, row, tree, graph, readable) for row in rows])


def _value_search(ast: QueryAst, plan: Plan, graph: Graph, readable: Readable) -> Result:
    if ast.select is None:  # search() sends only SELECT lists here
        raise AssertionError("a value search needs a SELECT list")
    items = ast.select
    if any(item.aggregate for item in items):
        if len(items) > 1:
            raise QueryError("An aggregate function must be the only item of SELECT")
        bindings = list(iter_bindings(plan, graph, readable))
        value, java_type = _aggregate(items[0], plan.compiler, bindings)
        return Result("value", _limit([] if value is None else [value], ast.limit), [java_type])
    columns = [plan.compiler.value_path(item.path) for item in items]
    bindings = sort_bindings(list(iter_bindings(plan, graph, readable)), plan.order)
    types = [column.type for column in columns]
    if len(columns) == 1:
        get_value = columns[0].getter
        values: list[Any] = [get_value(b) for b in bindings]
        kind = "value"
    else:
        getters = [column.getter for column in columns]
        values = [tuple(g(b) for g in getters) for b in bindings]
        kind = "tuple"
    if ast.distinct:
        values = _unique(values)
    return Result(kind, _limit(values, ast.limit), types)


def _aggregate(item: SelectItem, compiler: Compiler, bindings: list[Binding]) -> tuple[Any, str]:
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
        return min(values, key=sort_key), column.type
    if function == "MAX":
        return max(values, key=sort_key), column.type
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
    ast = parse(text)
    if ast.joins or ast.where is not None or ast.order or ast.limit is not None:
        raise QueryError("get accepts only an entity and INCLUDE, not JOIN, WHERE, ORDER BY or LIMIT")
    select = ast.select
    if select is not None and (len(select) != 1 or select[0].aggregate or select[0].path.text != ast.alias):
        raise QueryError(f"get must select the entity alias '{ast.alias}'")
    compiler = Compiler(ast, graph, user)
    entity = compiler.alias_entities[0]
    tree = compiler.include_tree(entity, ast.alias)
    row = graph.get(entity.name, id)
    if row is None:
        raise NoSuchObjectError(f"{entity.name}[id:{id}] not found")
    if not readable(entity.name, row):
        raise PrivilegesError(f"Read access to {entity.name}[id:{id}] is not allowed")
    return _build_node(entity, row, tree, graph, readable)
