"""Unit tests of the emulated ICAT server's query engine.

The query strings come from python-icat's own :class:`icat.query.Query`, so
the tests prove the engine parses what real clients send. ``Query`` only
needs a client with a typemap, an API version and the entity info, which a
small stand-in built from :mod:`schema` provides without any server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import icat.entities
import icat.helper
import pytest
from icat.query import Query

from mxcubecore_lims.testing.icat import schema
from mxcubecore_lims.testing.icat.jpql import (
    Node,
    NoSuchObjectError,
    PrivilegesError,
    QueryError,
    get,
    search,
)

# --------------------------------------------------------------------------
# A python-icat client stand-in: just enough for Query to render strings
# --------------------------------------------------------------------------


class _Field(dict):
    """An entityField: suds objects allow both item and attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _entity_info(entity: schema.Entity) -> SimpleNamespace:
    fields = []
    for item in entity.fields_by_name.values():
        if isinstance(item, schema.Attr):
            rel, java_type, not_null = "ATTRIBUTE", item.type, item.not_null
        elif isinstance(item, schema.One):
            rel, java_type, not_null = "ONE", item.target, item.not_null
        else:
            rel, java_type, not_null = "MANY", item.target, False
        fields.append(_Field(name=item.name, relType=rel, type=java_type, notNullable=not_null))
    info = SimpleNamespace(classComment=entity.comment, fields=fields)
    if entity.unique:
        info.constraints = [{"fieldNames": list(entity.unique)}]
    return info


class FakeClient:
    """What :class:`icat.query.Query` uses of :class:`icat.client.Client`."""

    def __init__(self) -> None:
        self.apiversion = icat.helper.Version("6.2.0")
        self._infos = {name: _entity_info(ent) for name, ent in schema.ENTITIES.items()}
        self._infos["Parameter"] = _entity_info(schema.PARAMETER_INFO)
        self.typemap = icat.entities.getTypeMap(self)

    def getEntityNames(self) -> tuple[str, ...]:
        return schema.ENTITY_NAMES

    def getEntityInfo(self, name: str) -> SimpleNamespace:
        return self._infos[name]

    def getEntityClass(self, name: str) -> type:
        for cls in self.typemap.values():
            if cls.BeanName == name:
                return cls
        raise ValueError(name)

    def _has_wsdl_type(self, name: str) -> bool:
        return name == "fieldSet"


@pytest.fixture(scope="module")
def client() -> FakeClient:
    return FakeClient()


def q(client: FakeClient, entity: str, **kwargs: Any) -> str:
    """Render a query string exactly as python-icat sends it."""
    return str(Query(client, entity, **kwargs))


# --------------------------------------------------------------------------
# An in-memory graph
# --------------------------------------------------------------------------


def _ts(*args: int) -> datetime:
    return datetime(*args).astimezone()  # type: ignore[misc]


class MemoryGraph:
    """The :class:`~mxcubecore_lims.testing.icat.jpql.Graph` protocol over dicts."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[int, dict]] = {name: {} for name in schema.ENTITIES}

    def add(self, entity: str, id: int, **values: Any) -> dict:
        ent = schema.ENTITIES[entity]
        row: dict[str, Any] = {
            name: None for name, item in ent.fields_by_name.items() if not isinstance(item, schema.Many)
        }
        row.update(id=id, createId="simple/root", modId="simple/root")
        for name in values:
            assert ent.field(name) is not None, name
        row.update(values)
        self.tables[entity][id] = row
        return row

    def rows(self, entity: str) -> Iterable[dict]:
        return list(self.tables[entity].values())

    def get(self, entity: str, id: int) -> dict | None:
        return self.tables[entity].get(id)

    def children(self, entity: str, id: int, many: str) -> list[dict]:
        rel = schema.ENTITIES[entity].field(many)
        assert isinstance(rel, schema.Many)
        return [row for row in self.tables[rel.target].values() if row[rel.back] == id]


@pytest.fixture(scope="module")
def graph() -> MemoryGraph:
    g = MemoryGraph()
    g.add("Facility", 1, name="ESRF")
    g.add("Instrument", 10, name="ID30A-1", facility=1)
    g.add("Instrument", 11, name="ID23-1", facility=1)
    g.add("InvestigationType", 5, name="MX", facility=1)
    g.add("User", 20, name="simple/jdoe", fullName="John Doe")
    g.add("User", 21, name="simple/other", fullName="O'Brien")
    g.add(
        "Investigation",
        100,
        name="MX-1",
        visitId="v1",
        title="Lysozyme",
        facility=1,
        type=5,
        startDate=_ts(2024, 1, 10, 9, 0),
        fileSize=100,
    )
    g.add(
        "Investigation",
        101,
        name="MX-2",
        visitId="v1",
        title="Thaumatin",
        facility=1,
        type=5,
        startDate=_ts(2024, 2, 10, 9, 0),
        fileSize=300,
    )
    g.add(
        "Investigation",
        102,
        name="MX-3",
        visitId="v2",
        title="lysozyme again",
        facility=1,
        type=5,
        startDate=None,
        fileSize=None,
    )
    g.add("InvestigationInstrument", 200, investigation=100, instrument=10)
    g.add("InvestigationInstrument", 201, investigation=101, instrument=11)
    g.add("InvestigationInstrument", 202, investigation=101, instrument=10)
    g.add("InvestigationUser", 300, investigation=100, user=20, role="PI")
    g.add("InvestigationUser", 301, investigation=101, user=20, role="CO")
    g.add("InvestigationUser", 302, investigation=101, user=21, role="PI")
    g.add("InvestigationUser", 303, investigation=102, user=21, role="PI")
    g.add("ParameterType", 400, name="MX_puck", units="N/A", valueType="STRING", facility=1)
    g.add("ParameterType", 401, name="MX_position", units="N/A", valueType="NUMERIC", facility=1)
    g.add("Sample", 500, name="S1", investigation=100)
    g.add("Sample", 501, name="S2", investigation=100)
    g.add("Sample", 502, name="S3", investigation=101)
    g.add("Sample", 503, name="S4", investigation=102)
    g.add("SampleParameter", 601, sample=500, type=401, numericValue=3.0)
    g.add("SampleParameter", 600, sample=500, type=400, stringValue="P1")
    g.add("SampleParameter", 602, sample=501, type=400, stringValue="P2")
    g.add("SampleParameter", 603, sample=502, type=401, numericValue=5.0)
    g.add("DatasetType", 800, name="acquisition", facility=1)
    g.add("Dataset", 700, name="ds1", investigation=100, sample=500, type=800, complete=True, fileSize=10)
    g.add("Dataset", 701, name="ds2", investigation=100, sample=None, type=800, complete=False, fileSize=30)
    g.add("Dataset", 702, name="ds3", investigation=101, sample=502, type=800, complete=True, fileSize=None)
    return g


def everything(_entity: str, _row: dict) -> bool:
    return True


def run(graph: MemoryGraph, text: str, *, user: str = "simple/jdoe", readable: Any = everything) -> Any:
    return search(text, graph, user=user, readable=readable)


def ids(result: Any) -> list[int]:
    return [node.row["id"] for node in result.items]


# --------------------------------------------------------------------------
# Entity searches
# --------------------------------------------------------------------------


def test_simple_select_returns_all_rows_as_nodes(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Investigation")
    assert text == "SELECT o FROM Investigation o"
    result = run(graph, text)
    assert result.kind == "entity"
    assert ids(result) == [100, 101, 102]
    assert all(isinstance(node, Node) for node in result.items)
    assert {(node.entity, str(node.includes)) for node in result.items} == {("Investigation", "{}")}


def test_condition_on_one_relation_path(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", conditions={"investigation.name": "= 'MX-1'"})
    assert "JOIN o.investigation AS i" in text
    assert ids(run(graph, text)) == [700, 701]


def test_conditions_through_many_joins(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(
        client,
        "Investigation",
        conditions={
            "investigationInstruments.instrument.name": "= 'ID30A-1'",
            "investigationUsers.user.name": "= :user",
        },
    )
    assert "JOIN o.investigationUsers AS iu JOIN iu.user AS" in text
    assert ids(run(graph, text, user="simple/jdoe")) == [100, 101]
    assert ids(run(graph, text, user="simple/other")) == [101]
    assert ids(run(graph, text, user="nobody")) == []


def test_fanned_out_join_returns_each_entity_once(graph: MemoryGraph) -> None:
    # MX-2 has two instruments: the join yields it twice, the result once.
    text = "SELECT o FROM Investigation o JOIN o.investigationInstruments AS ii"
    assert ids(run(graph, text)) == [100, 101]


def test_left_join_keeps_rows_without_match(graph: MemoryGraph) -> None:
    inner = "SELECT o FROM Investigation o JOIN o.investigationInstruments AS ii"
    left = "SELECT o FROM Investigation o LEFT JOIN o.investigationInstruments AS ii WHERE ii IS NULL"
    assert 102 not in ids(run(graph, inner))
    assert ids(run(graph, left)) == [102]


def test_left_join_spec_from_python_icat(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", order=["sample.name"], join_specs={"sample": "LEFT JOIN"})
    assert "LEFT JOIN o.sample AS" in text
    # NULL sample first, then S1 (ds1) and S3 (ds3).
    assert ids(run(graph, text)) == [701, 700, 702]


def test_in_list_and_not_in(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Sample", conditions={"name": "IN ('S1', 'S4', 'nope')"})
    assert ids(run(graph, text)) == [500, 503]
    assert ids(run(graph, "SELECT o FROM Sample o WHERE o.name NOT IN ('S1', 'S4')")) == [501, 502]


def test_like_and_not_like(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Investigation", conditions={"title": "LIKE 'Lys%'"})
    assert ids(run(graph, text)) == [100]
    upper = q(client, "Investigation", conditions={"UPPER(title)": "LIKE 'LYS%'"})
    assert upper.startswith("SELECT o FROM Investigation o WHERE UPPER(o.title) LIKE")
    assert ids(run(graph, upper)) == [100, 102]
    assert ids(run(graph, "SELECT o FROM Sample o WHERE o.name LIKE 'S_'")) == [500, 501, 502, 503]
    assert ids(run(graph, "SELECT o FROM Sample o WHERE o.name NOT LIKE '%1'")) == [501, 502, 503]


def test_like_treats_regex_characters_literally(graph: MemoryGraph) -> None:
    assert ids(run(graph, "SELECT o FROM Investigation o WHERE o.name LIKE 'MX.1'")) == []
    assert ids(run(graph, "SELECT o FROM User o WHERE o.fullName = 'O''Brien'")) == [21]


def test_is_null_and_is_not_null(client: FakeClient, graph: MemoryGraph) -> None:
    assert ids(run(graph, q(client, "Investigation", conditions={"startDate": "IS NULL"}))) == [102]
    assert ids(run(graph, q(client, "Dataset", conditions={"sample": "IS NOT NULL"}))) == [700, 702]


def test_between_timestamps(client: FakeClient, graph: MemoryGraph) -> None:
    cond = "BETWEEN {ts 2024-01-01 00:00:00} AND {ts 2024-01-31 23:59:59}"
    text = q(client, "Investigation", conditions={"startDate": cond})
    assert ids(run(graph, text)) == [100]
    negated = (
        "SELECT o FROM Investigation o WHERE o.startDate NOT BETWEEN"
        " {ts 2024-01-01 00:00:00} AND {ts 2024-01-31 23:59:59.5}"
    )
    # MX-3 has no start date: NOT BETWEEN is unknown, so it is not returned.
    assert ids(run(graph, negated)) == [101]


def test_timestamp_comparison_and_and_conditions(client: FakeClient, graph: MemoryGraph) -> None:
    window = ["> {ts 2024-01-10 08:59:59}", "< {ts 2024-02-10 09:00:00}"]
    text = q(client, "Investigation", conditions={"startDate": window})
    assert "o.startDate > {ts 2024-01-10 08:59:59} AND o.startDate < {ts" in text
    assert ids(run(graph, text)) == [100]


def test_three_valued_logic_for_null(graph: MemoryGraph) -> None:
    # fileSize of ds3 is NULL: neither "= 10" nor "NOT (= 10)" holds.
    assert ids(run(graph, "SELECT o FROM Dataset o WHERE NOT (o.fileSize = 10)")) == [701]
    assert ids(run(graph, "SELECT o FROM Dataset o WHERE o.fileSize = 10 OR o.fileSize IS NULL")) == [700, 702]


def test_boolean_numbers_and_parentheses(graph: MemoryGraph) -> None:
    text = "SELECT o FROM Dataset o WHERE o.complete = TRUE AND (o.fileSize >= 10 OR o.name <> 'ds1')"
    assert ids(run(graph, text)) == [700, 702]
    assert ids(run(graph, "SELECT o FROM Dataset o WHERE o.fileSize != 10")) == [701]
    assert ids(run(graph, "SELECT o FROM SampleParameter o WHERE o.numericValue > 3.5")) == [603]
    assert ids(run(graph, "select o from Dataset o where length(o.name) = 3 and o.fileSize > -1")) == [700, 701]


def test_enum_attribute_compares_with_string(graph: MemoryGraph) -> None:
    text = "SELECT o FROM SampleParameter o JOIN o.type AS t WHERE t.valueType = 'NUMERIC'"
    assert ids(run(graph, text)) == [601, 603]


def test_order_asc_desc_and_nulls(client: FakeClient, graph: MemoryGraph) -> None:
    asc = q(client, "Investigation", order=["startDate"])
    assert ids(run(graph, asc)) == [102, 100, 101]
    desc = q(client, "Investigation", order=[("startDate", "DESC")])
    assert desc.endswith("ORDER BY o.startDate DESC")
    assert ids(run(graph, desc)) == [101, 100, 102]
    multi = "SELECT o FROM Investigation o ORDER BY o.visitId DESC, o.name ASC"
    assert ids(run(graph, multi)) == [102, 100, 101]


def test_order_by_join_alias(graph: MemoryGraph) -> None:
    text = "SELECT o FROM Sample o JOIN o.parameters AS p ORDER BY p.id DESC"
    # S3 (603), S2 (602), S1 (601 then 600: first occurrence kept).
    assert ids(run(graph, text)) == [502, 501, 500]


def test_order_by_function_from_python_icat(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Investigation", order=[("LENGTH(title)", "DESC")])
    assert text.endswith("ORDER BY LENGTH(o.title) DESC")
    assert ids(run(graph, text)) == [102, 101, 100]


def test_select_joined_entity(graph: MemoryGraph) -> None:
    text = "SELECT i FROM Dataset o JOIN o.investigation AS i WHERE o.complete = TRUE INCLUDE i.type"
    result = run(graph, text)
    assert [(node.entity, node.row["id"]) for node in result.items] == [("Investigation", 100), ("Investigation", 101)]
    assert result.items[0].includes["type"].row["name"] == "MX"


def test_limit_skip_count(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Sample", order=["name"], limit=(1, 2))
    assert text.endswith("LIMIT 1, 2")
    assert ids(run(graph, text)) == [501, 502]
    assert ids(run(graph, "SELECT o FROM Sample o LIMIT 3")) == [500, 501, 502]


def test_root_readable_filter_applies_before_projection(graph: MemoryGraph) -> None:
    def only_mx1(entity: str, row: dict) -> bool:
        return entity != "Investigation" or row["name"] == "MX-1"

    assert ids(run(graph, "SELECT o FROM Investigation o", readable=only_mx1)) == [100]
    count = run(graph, "SELECT COUNT(o) FROM Investigation o", readable=only_mx1)
    assert count.items == [1]


# --------------------------------------------------------------------------
# INCLUDE
# --------------------------------------------------------------------------


def test_include_one_relation(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", conditions={"name": "= 'ds1'"}, includes=["investigation", "sample"])
    (node,) = run(graph, text).items
    assert set(node.includes) == {"investigation", "sample"}
    assert node.includes["investigation"].row["name"] == "MX-1"
    assert node.includes["investigation"].includes == {}
    assert node.includes["sample"].row["name"] == "S1"


def test_include_unset_one_relation_is_none(graph: MemoryGraph) -> None:
    (node,) = run(graph, "SELECT o FROM Dataset o WHERE o.name = 'ds2' INCLUDE o.sample").items
    assert node.includes == {"sample": None}


def test_include_many_and_nested(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(
        client,
        "Investigation",
        conditions={"name": "= 'MX-2'"},
        includes=["investigationInstruments.instrument", "type"],
    )
    assert "INCLUDE o.investigationInstruments AS ii, ii.instrument, o.type" in text
    (node,) = run(graph, text).items
    links = node.includes["investigationInstruments"]
    assert [link.row["id"] for link in links] == [201, 202]
    assert [link.includes["instrument"].row["name"] for link in links] == ["ID23-1", "ID30A-1"]
    assert node.includes["type"].row["name"] == "MX"


def test_include_nested_path_through_many(graph: MemoryGraph) -> None:
    text = "SELECT o FROM Sample o WHERE o.name = 'S1' INCLUDE o.parameters.type"
    (node,) = run(graph, text).items
    params = node.includes["parameters"]
    assert [p.row["id"] for p in params] == [600, 601]  # ordered by id
    assert [p.includes["type"].row["name"] for p in params] == ["MX_puck", "MX_position"]


def test_include_1_gives_every_one_relation(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", conditions={"name": "= 'ds1'"}, includes="1")
    (node,) = run(graph, text).items
    assert set(node.includes) == {"investigation", "sample", "type"}
    (short,) = run(graph, "SELECT o FROM Dataset o WHERE o.id = 701 INCLUDE 1").items
    assert short.includes["sample"] is None
    assert short.includes["type"].row["name"] == "acquisition"


def test_include_with_limit_after(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Sample", order=["name"], includes=["investigation"], limit=(0, 1))
    assert text.index("INCLUDE") < text.index("LIMIT")
    (node,) = run(graph, text).items
    assert node.row["name"] == "S1"
    assert node.includes["investigation"].row["id"] == 100


def test_readable_filter_on_includes(graph: MemoryGraph) -> None:
    def hide(entity: str, row: dict) -> bool:
        return not (entity == "Sample" or (entity == "SampleParameter" and row["id"] == 600))

    (ds,) = run(graph, "SELECT o FROM Dataset o WHERE o.id = 700 INCLUDE o.sample", readable=everything).items
    assert ds.includes["sample"] is not None
    (ds,) = run(graph, "SELECT o FROM Dataset o WHERE o.id = 700 INCLUDE o.sample", readable=hide).items
    assert ds.includes == {"sample": None}
    (inv,) = run(graph, "SELECT o FROM Investigation o WHERE o.id = 100 INCLUDE o.samples", readable=hide).items
    assert inv.includes["samples"] == []
    (par,) = run(graph, "SELECT o FROM SampleParameter o WHERE o.id = 601 INCLUDE o.sample.parameters").items
    assert [p.row["id"] for p in par.includes["sample"].includes["parameters"]] == [600, 601]


def test_readable_filter_drops_unreadable_many_children(graph: MemoryGraph) -> None:
    def hide_600(entity: str, row: dict) -> bool:
        return not (entity == "SampleParameter" and row["id"] == 600)

    (node,) = run(graph, "SELECT o FROM Sample o WHERE o.id = 500 INCLUDE o.parameters", readable=hide_600).items
    assert [p.row["id"] for p in node.includes["parameters"]] == [601]


# --------------------------------------------------------------------------
# Attribute selects and aggregates
# --------------------------------------------------------------------------


def test_attribute_select(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Sample", attributes="name", order=[("name", "DESC")])
    assert text.startswith("SELECT o.name FROM Sample o")
    result = run(graph, text)
    assert (result.kind, result.items, result.types) == ("value", ["S4", "S3", "S2", "S1"], ["String"])


def test_attribute_select_through_one_relation(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", attributes="investigation.name")
    assert text.startswith("SELECT i.name FROM Dataset o JOIN o.investigation AS i")
    assert run(graph, text).items == ["MX-1", "MX-1", "MX-2"]
    distinct = q(client, "Dataset", attributes="investigation.name", aggregate="DISTINCT")
    assert distinct.startswith("SELECT DISTINCT(i.name) FROM")
    assert run(graph, distinct).items == ["MX-1", "MX-2"]
    direct = run(graph, "SELECT o.investigation.startDate FROM Dataset o WHERE o.id = 702")
    assert direct.items == [_ts(2024, 2, 10, 9, 0)] and direct.types == ["Date"]


def test_multi_attribute_select(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", attributes=["name", "fileSize", "complete"], order=["name"])
    result = run(graph, text)
    assert result.kind == "tuple"
    assert result.types == ["String", "Long", "Boolean"]
    assert result.items == [("ds1", 10, True), ("ds2", 30, False), ("ds3", None, True)]
    distinct = q(client, "Dataset", attributes=["investigation.name", "complete"], aggregate="DISTINCT")
    assert distinct.startswith("SELECT DISTINCT i.name, o.complete FROM")
    assert run(graph, distinct).items == [("MX-1", True), ("MX-1", False), ("MX-2", True)]


def test_count_and_count_distinct(client: FakeClient, graph: MemoryGraph) -> None:
    joined = {"investigationUsers.user.name": "LIKE 'simple/%'"}
    count = q(client, "Investigation", aggregate="COUNT", conditions=joined)
    assert count.startswith("SELECT COUNT(o) FROM Investigation o")
    result = run(graph, count)
    # MX-2 has two users: COUNT counts joined rows.
    assert (result.kind, result.items, result.types) == ("value", [4], ["Long"])
    distinct = q(client, "Investigation", aggregate="COUNT:DISTINCT", conditions=joined)
    assert distinct.startswith("SELECT COUNT(DISTINCT(o)) FROM")
    assert run(graph, distinct).items == [3]
    assert run(graph, "SELECT COUNT(DISTINCT o) FROM Investigation o JOIN o.investigationUsers AS iu").items == [3]
    assert run(graph, "SELECT COUNT(o.startDate) FROM Investigation o").items == [2]
    assert run(graph, "SELECT COUNT(o) FROM Investigation o WHERE o.name = 'none'").items == [0]


def test_min_max_sum_avg(client: FakeClient, graph: MemoryGraph) -> None:
    text = q(client, "Dataset", attributes="fileSize", aggregate="MAX")
    assert text == "SELECT MAX(o.fileSize) FROM Dataset o"
    assert run(graph, text).items == [30]
    minimum = run(graph, q(client, "Investigation", attributes="startDate", aggregate="MIN"))
    assert (minimum.items, minimum.types) == ([_ts(2024, 1, 10, 9, 0)], ["Date"])
    total = run(graph, "SELECT SUM(o.fileSize) FROM Dataset o")
    assert (total.items, total.types) == ([40], ["Long"])
    mean = run(graph, q(client, "Dataset", attributes="fileSize", aggregate="AVG"))
    assert (mean.items, mean.types) == ([20.0], ["Double"])
    assert run(graph, "SELECT MAX(o.fileSize) FROM Dataset o WHERE o.id = 702").items == []


# --------------------------------------------------------------------------
# get() and short forms
# --------------------------------------------------------------------------


def test_get_short_forms(graph: MemoryGraph) -> None:
    plain = get("Investigation", 100, graph, user="u", readable=everything)
    assert (plain.entity, plain.row["name"], plain.includes) == ("Investigation", "MX-1", {})
    one = get("Investigation INCLUDE 1", 100, graph, user="u", readable=everything)
    assert set(one.includes) == {"facility", "type"}
    aliased = get("Dataset ds INCLUDE ds.investigation, ds.sample", 701, graph, user="u", readable=everything)
    assert aliased.includes["investigation"].row["id"] == 100 and aliased.includes["sample"] is None
    full = get("SELECT o FROM Sample o INCLUDE o.parameters AS p, p.type", 500, graph, user="u", readable=everything)
    assert [p.includes["type"].row["id"] for p in full.includes["parameters"]] == [400, 401]
    bare = get("Dataset INCLUDE Dataset.type", 700, graph, user="u", readable=everything)
    assert bare.includes["type"].row["id"] == 800


def test_short_form_search(graph: MemoryGraph) -> None:
    assert ids(run(graph, "Investigation")) == [100, 101, 102]
    (node, *_rest) = run(graph, "Dataset ds INCLUDE ds.investigation").items
    assert node.includes["investigation"].row["id"] == 100


def test_get_missing_and_unreadable(graph: MemoryGraph) -> None:
    with pytest.raises(NoSuchObjectError, match=r"Investigation\[id:999\]"):
        get("Investigation", 999, graph, user="u", readable=everything)
    with pytest.raises(PrivilegesError, match="Investigation"):
        get("Investigation", 100, graph, user="u", readable=lambda _e, _r: False)
    assert issubclass(NoSuchObjectError, QueryError) and issubclass(PrivilegesError, QueryError)


def test_get_refuses_where(graph: MemoryGraph) -> None:
    with pytest.raises(QueryError, match="get accepts only"):
        get("SELECT o FROM Investigation o WHERE o.id = 1", 100, graph, user="u", readable=everything)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "SELECT o FROM Investigation o WHERE o.nmae = 'x'",
            r"Unknown field 'nmae' of Investigation in 'o\.nmae' at offset 36",
        ),
        ("SELECT o FROM Invstigation o", r"Unknown entity 'Invstigation' at offset 14"),
        ("SELECT o FROM Investigation o WHERE x.name = 'a'", r"Unknown alias 'x'"),
        (
            "SELECT o FROM Investigation o WHERE o.investigationUsers.role = 'PI'",
            r"'investigationUsers' is a one-to-many relation: JOIN it",
        ),
        ("SELECT o FROM Investigation o garbage here", r"Expected end of query but found 'garbage' at offset 30"),
        ("SELECT o FROM Investigation o WHERE o.name = 'x' LIMIT 1, 2 trailing", r"found 'trailing' at offset 60"),
        ("SELECT o FROM Investigation o WHERE o.name = 'x", r"Unterminated string literal at offset 45"),
        ("SELECT o FROM Investigation o WHERE o.name # 'x'", r"Unexpected character '#' at offset 43"),
        ("SELECT o FROM Investigation o WHERE o.name = :nobody", r"Unknown parameter ':nobody' at offset 45"),
        ("SELECT o FROM Investigation o WHERE o.name.x = 'a'", r"'name' is not a relation"),
        ("SELECT o FROM Investigation o INCLUDE o.name", r"'name' in INCLUDE 'o\.name' at offset 38 is not a relation"),
        ("SELECT o FROM Investigation o INCLUDE x.type", r"Unknown alias 'x' in INCLUDE"),
        ("SELECT o FROM Investigation o WHERE o.startDate > {ts yesterday}", r"Invalid timestamp literal 'yesterday'"),
        ("SELECT o FROM Investigation o WHERE o.name = 3", r"Cannot compare str value 'MX-1' with int value 3"),
        ("SELECT o.name FROM Investigation o INCLUDE o.type", r"INCLUDE is only allowed when selecting entities"),
        ("SELECT SUM(o.name) FROM Investigation o", r"SUM needs a numeric attribute"),
        ("", r"Empty query"),
        ("SELECT o FROM Investigation o WHERE", r"Expected a value but found '<end of query>' at offset 35"),
    ],
)
def test_errors_name_the_offending_token(graph: MemoryGraph, text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        run(graph, text)


def test_timestamp_literal_is_local_time() -> None:
    class OneRow(MemoryGraph):
        pass

    g = OneRow()
    local = datetime(2024, 6, 1, 12, 0).astimezone()
    elsewhere = local.astimezone(timezone(timedelta(hours=5)))
    g.add("Investigation", 1, name="a", visitId="v", title="t", startDate=elsewhere)
    # Same instant expressed in another zone still equals the local literal.
    assert ids(run(g, "SELECT o FROM Investigation o WHERE o.startDate = {ts 2024-06-01 12:00:00}")) == [1]
