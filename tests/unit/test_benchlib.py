"""tools/benchlib.py, the benchmarks' shared harness: its pure parts, with real values.

The figures (medians, ratios, per-round ratios), the schedule of rounds, the
per-operation bookkeeping, the command line's ``--quick`` and the tables: the
table rows are checked against lines the README quotes, so a change of
format shows here before it shows there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tracemalloc
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import benchlib

MIB = 1024 * 1024


# ------------------------------------------------------------ figures


def test_ratio_and_the_median_of_per_round_ratios():
    assert benchlib.ratio(3.0, 2.0) == 1.5
    assert benchlib.ratio(1.0, 0.0) is None
    # Pairs with a zero denominator are left out: medians of 2.0 and 3.0.
    assert benchlib.paired_median([2.0, 9.0, 4.0], [1.0, 3.0, 0.0]) == 2.5
    assert benchlib.paired_median([1.0, 2.0, 30.0], [1.0, 1.0, 1.0]) == 2.0
    assert benchlib.to_ms([0.5, 0.0015]) == pytest.approx([500.0, 1.5])


def test_operation_summary_gives_medians_of_what_the_passes_measured():
    samples = benchlib.OperationSamples(("connect", "upload"))
    for seconds in (0.010, 0.030, 0.020):
        samples.add(_pass(False, {"connect": seconds, "upload": 2 * seconds}), {"datasets": 3}, "ours")
    for peak in (100, 300):
        samples.add(_pass(True, {"connect": peak, "upload": peak + 1}), {"datasets": 3}, "ours")
    assert samples.passes == 5 and samples.stored == {"datasets": 15}

    summary = benchlib.operation_summary(samples)
    assert list(summary) == ["connect", "upload"]
    assert summary["connect"]["median_ms"] == pytest.approx(20.0)
    assert summary["connect"]["ms"] == pytest.approx([10.0, 30.0, 20.0])
    assert summary["upload"]["median_ms"] == pytest.approx(40.0)
    assert summary["connect"]["median_peak_bytes"] == 200.0 and summary["connect"]["peak_bytes"] == [100, 300]
    assert summary["upload"]["median_peak_bytes"] == 201.0
    assert summary["connect"]["requests"] == 23 and summary["upload"]["requests"] == 200


def test_a_pass_sending_other_requests_is_refused():
    samples = benchlib.OperationSamples(("connect",))
    samples.add(_pass(False, {"connect": 0.1}), {}, "floor")
    changed = benchlib.PassMeasurement(False, {"connect": benchlib.Measurement(0.1, None, None)}, {"connect": 24})
    with pytest.raises(benchlib.RefusedError, match=r"^floor: SOAP requests per operation changed: "):
        samples.add(changed, {}, "floor", what="SOAP requests")


def _pass(traced: bool, values: dict[str, float]) -> benchlib.PassMeasurement:
    """A pass as measure_operations gives it: 23 requests for connect, 200 for upload."""
    measurements = {
        op: benchlib.Measurement(0.0 if traced else value, int(value) if traced else None, None)
        for op, value in values.items()
    }
    requests = {op: {"connect": 23, "upload": 200}[op] for op in values}
    return benchlib.PassMeasurement(traced, measurements, requests)


# ------------------------------------------------------------ measuring


def test_rounds_flip_the_order_and_trace_only_the_first_ones():
    rounds = list(benchlib.schedule(["a", "b"], 3, traced_rounds=1))
    assert rounds == [
        (0, False, "a"),
        (0, False, "b"),
        (0, True, "a"),
        (0, True, "b"),
        (1, False, "b"),
        (1, False, "a"),
        (2, False, "a"),
        (2, False, "b"),
    ]
    assert [traced for _, traced, _ in benchlib.schedule(["a"], 2)] == [False, True, False, True]
    assert list(benchlib.schedule(["a", "b"], 2, traced_rounds=0)) == [
        (0, False, "a"),
        (0, False, "b"),
        (1, False, "b"),
        (1, False, "a"),
    ]
    assert benchlib.in_turn(("x", "y", "z"), 4) == ["x", "y", "z"]
    assert benchlib.in_turn(("x", "y", "z"), 5) == ["z", "y", "x"]


def test_measure_times_or_traces_one_call():
    timed = benchlib.measure(lambda a, b: a * b, 6, 7)
    assert timed.result == 42 and timed.peak_bytes is None and timed.seconds >= 0
    traced = benchlib.measure(bytearray, 2_000_000, traced=True)
    assert len(traced.result) == 2_000_000 and traced.peak_bytes >= 2_000_000
    assert not tracemalloc.is_tracing()


def test_measure_stops_tracing_when_the_call_raises():
    with pytest.raises(ZeroDivisionError):
        benchlib.measure(lambda: 1 / 0, traced=True)
    assert not tracemalloc.is_tracing()


def test_measure_operations_counts_each_operations_requests():
    served: list[str] = []
    done: list[str] = []

    def run_operation(name: str) -> None:
        served.extend([name] * {"login": 2, "store": 5}[name])
        done.append(f"run {name}")

    measured = benchlib.measure_operations(
        run_operation,
        ("login", "store"),
        False,
        lambda: len(served),
        prepare=lambda name: done.append(f"prepare {name}"),
    )
    assert measured.requests == {"login": 2, "store": 5} and measured.traced is False
    assert done == ["prepare login", "run login", "prepare store", "run store"]
    assert all(m.peak_bytes is None and m.seconds >= 0 for m in measured.measurements.values())


# ------------------------------------------------------------ tables


def test_table_row_and_ratio_cells():
    assert benchlib.table_row("ratio", 8, [("1.50x", 7), ("2", 3)]) == "  ratio     1.50x  2"
    assert benchlib.format_ratio(1.234) == "1.23x" and benchlib.format_ratio(0.5) == "0.50x"
    assert benchlib.format_ratio(None) == "-" and benchlib.format_ratio(None, "n/a") == "n/a"
    assert benchlib.small_note(True) == "  (small: not representative)" and benchlib.small_note(False) == ""


def test_operation_tables_give_the_icat_lines_the_readme_quotes():
    report = _report(
        {
            "connect": (23, 225.2, 199.9, 2.33, 2.32),
            "upload": (200, 25556.1, 24316.5, 16.91, 14.20),
        },
        ("ours", "floor"),
    )
    report["ratios"] = {
        "connect": {"ours_over_floor": 1.13, "peak_ours_over_floor": 1.0},
        "upload": {"ours_over_floor": 1.05, "peak_ours_over_floor": 1.19},
    }
    lines = benchlib.operation_tables(
        report,
        ("connect", "upload"),
        ("ours", "floor"),
        headers=("time header", "peak header"),
        ratios=(("ours_over_floor",), ("peak_ours_over_floor",)),
        widths=(12, 15, 11),
    )
    assert lines == [
        "time header",
        "  connect               23/23      225.2      199.9       1.13x",
        "  upload              200/200    25556.1    24316.5       1.05x",
        "",
        "peak header",
        "  connect                           2.33       2.32       1.00x",
        "  upload                           16.91      14.20       1.19x",
    ]


def test_operation_tables_give_the_ispyb_lines_the_readme_quotes():
    clients = ("stock", "ours", "floor")
    report = _report({"init": (0, 29.0, 21.5, 4.6, 1.97, 0.98, 0.13)}, clients)
    report["ratios"] = {"init": {"a": 1.35, "b": 4.66, "c": 2.0, "d": 7.70}}
    lines = benchlib.operation_tables(report, ("init",), clients, ("t", "p"), (("a", "b"), ("c", "d")), (16, 19, 10))
    assert lines[1] == "  init                          0/0/0      29.0      21.5       4.6       1.35x       4.66x"
    assert lines[4] == "  init                                     1.97      0.98      0.13       2.00x       7.70x"


def _report(rows: dict[str, tuple[float, ...]], clients: tuple[str, ...]) -> dict:
    """A report holding, per operation, its requests, then each client's median ms, then each one's MiB."""
    report: dict = {"clients": {key: {"operations": {}} for key in clients}}
    for op, (requests, *values) in rows.items():
        for index, key in enumerate(clients):
            report["clients"][key]["operations"][op] = {
                "requests": requests,
                "median_ms": values[index],
                "median_peak_bytes": values[len(clients) + index] * MIB,
            }
    return report


# ------------------------------------------------------------ command line and runs


def test_at_least_and_quick():
    assert benchlib.at_least(2)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 2"):
        benchlib.at_least(2)("1")

    def parse(argv: list[str]) -> argparse.Namespace:
        parser = benchlib.argument_parser("A benchmark.\n\nMore.")
        parser.add_argument("--size", type=benchlib.at_least(1), default=100)
        parser.add_argument("--repeat", type=benchlib.at_least(1), default=3)
        assert parser.description == "A benchmark."
        return benchlib.parse_with_quick(parser, argv, {"size": 5, "repeat": 1})

    assert (parse([]).size, parse([]).repeat, parse([]).quick) == (100, 3, False)
    assert (parse(["--quick"]).size, parse(["--quick"]).repeat) == (5, 1)
    assert (parse(["--quick", "--size", "7"]).size, parse(["--size", "7", "--quick"]).repeat) == (7, 1)
    with pytest.raises(SystemExit) as exit_info:
        parse(["--quick", "--size", "0"])
    assert exit_info.value.code == 2


def test_emit_prints_the_table_or_the_json(tmp_path, capsys):
    report = {"objects": 3}

    def table(data: dict) -> str:
        return f"table of {data['objects']}"

    benchlib.emit(report, table, None)
    assert capsys.readouterr().out == "table of 3\n"
    benchlib.emit(report, table, "-")
    assert json.loads(capsys.readouterr().out) == report
    target = tmp_path / "report.json"
    benchlib.emit(report, table, str(target))
    assert capsys.readouterr().out == "table of 3\n" and json.loads(target.read_text()) == report
    assert benchlib.json_flag(argparse.Namespace(json=True)) == "-"
    assert benchlib.json_flag(argparse.Namespace(json=False)) is None


def test_quiet_loggers_give_the_levels_back():
    logger = logging.getLogger("benchlib-test")
    logger.setLevel(logging.INFO)
    with benchlib.quiet_loggers(["benchlib-test"]):
        assert logger.level == logging.CRITICAL + 1
    assert logger.level == logging.INFO


def test_lims_workdir_gives_a_private_journal_and_no_proxy(monkeypatch):
    monkeypatch.setenv("MXCUBECORE_LIMS_STATE_DIR", "/nowhere")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    with benchlib.lims_workdir("benchlib_test_") as directory:
        assert directory.is_dir() and directory.name.startswith("benchlib_test_")
        assert Path(os.environ["MXCUBECORE_LIMS_STATE_DIR"]).resolve() == directory / "state"
        assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "127.0.0.1,localhost"
    assert not directory.exists()
