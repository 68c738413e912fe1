"""tools/bench_ispyb.py runs at a tiny size and reports sane, complete results.

No test here asserts how fast any client is: timings depend on the machine.
They check the report's shape and consistency (every operation, every
client, every ratio), that every pass stored what it should, and that the
benchmark refuses to report when a client returns a wrong result.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "bench_ispyb.py"
SIZES = {"samples": 20, "collections": 3, "images": 7}
TINY = ["--samples", "20", "--collections", "3", "--images", "7", "--repeat", "2"]


def _import_tool():
    # tools/ is not a package; dataclasses need the module registered first.
    spec = importlib.util.spec_from_file_location("bench_ispyb", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _import_tool()


def _run_script(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=SCRIPT.parents[1],
    )


# ------------------------------------------------------------ whole runs


def test_json_report_of_a_tiny_run():
    result = _run_script(*TINY, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # nothing but the JSON on stdout

    assert {key: report[key] for key in SIZES} == SIZES and report["repeat"] == 2
    assert report["proposal"] == "mx415"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", report["server"])
    assert report["server_tcp_nodelay"] is True
    assert all(report["versions"][name] for name in ("mxcubecore", "suds", "zeep", "requests", "gevent"))
    assert set(report["clients"]) == set(bench.CLIENTS)

    for key, client in report["clients"].items():
        assert set(client["operations"]) == set(bench.OPERATIONS), key
        # Two rounds: one timed and one traced pass each; all stored what they should.
        assert client["passes"] == 4
        assert client["stored"] == {"collections": 4 * 3, "images": 4 * 7}
        for op, data in client["operations"].items():
            assert len(data["ms"]) == 2 and all(value > 0 for value in data["ms"]), (key, op)
            assert data["median_ms"] == pytest.approx(statistics.median(data["ms"]))
            assert len(data["peak_bytes"]) == 2 and all(value > 0 for value in data["peak_bytes"]), (key, op)
            assert data["median_peak_bytes"] == pytest.approx(statistics.median(data["peak_bytes"]))
        requests = {op: data["requests"] for op, data in client["operations"].items()}
        assert requests["init"] == 0 and requests["get_samples"] == 1, key
        assert requests["store"] == 3 and requests["images"] == 7, key
        assert requests["update"] in (3, 6), key  # one or two requests per update
        assert requests["login"] >= 1, key
    # The floor sends exactly what ours sends.
    ours, floor = report["clients"]["ours"], report["clients"]["floor"]
    for op in bench.OPERATIONS:
        assert floor["operations"][op]["requests"] == ours["operations"][op]["requests"], op

    clients = report["clients"]
    for op, ratio in report["ratios"].items():
        stock, mine, low = (clients[key]["operations"][op] for key in bench.CLIENTS)
        assert ratio["stock_over_ours"] == pytest.approx(stock["median_ms"] / mine["median_ms"])
        assert ratio["ours_over_floor"] == pytest.approx(mine["median_ms"] / low["median_ms"])
        paired = [a / b for a, b in zip(stock["ms"], mine["ms"], strict=False)]
        assert ratio["stock_over_ours_per_round_median"] == pytest.approx(statistics.median(paired))
        assert ratio["peak_stock_over_ours"] == pytest.approx(stock["median_peak_bytes"] / mine["median_peak_bytes"])
        assert ratio["peak_ours_over_floor"] == pytest.approx(mine["median_peak_bytes"] / low["median_peak_bytes"])

    # The backlog: a round per measured round, each the 7 images written directly and the
    # same 7 journalled during an outage and drained, on 3 collections of their own.
    backlog = report["backlog"]
    assert (backlog["rounds"], backlog["writes"], backlog["records"], backlog["waiting"]) == (2, 7, 7, 7)
    assert backlog["direct_ms"] > 0 and backlog["drain_ms"] > 0
    assert backlog["drain_over_direct"] == pytest.approx(backlog["drain_ms"] / backlog["direct_ms"])

    # Warm-ups (4 passes: ours has two) and measured passes (12), each with its own rows; the backlog's.
    assert report["emulator_totals"] == {"DataCollection": 16 * 3 + 3, "Image": 16 * 7 + 2 * 2 * 7}


def test_table_report_of_a_tiny_run():
    result = _run_script(*TINY)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(
        r"^ISPyB client benchmark: emulator at http://127\.0\.0\.1:\d+, proposal mx415 .*not representative", out, re.M
    ), out
    assert "TCP_NODELAY set by the benchmark" in out
    assert "20 samples, 3 data collections stored and updated, 7 images; 2 rounds (medians)" in out
    assert "verified: every pass of every client" in out
    number, ratio = r"\s+[\d.]+", r"\s+[\d.]+x"
    for op in bench.OPERATIONS:
        assert re.search(rf"^  {op}\s+\d+/\d+/\d+{number}{number}{number}{ratio}{ratio}$", out, re.M), out
        assert re.search(rf"^  {op}{number}{number}{number}{ratio}{ratio}$", out, re.M), out
    assert "WARNING" not in out and "Traceback" not in result.stderr
    # mxcubecore's and our loggers were silenced.
    assert "ISPyB" not in result.stderr and "HWR" not in result.stderr, result.stderr


def test_bad_arguments_exit_2():
    for arguments in (["--samples", "0"], ["--collections", "0"], ["--images", "0"], ["--repeat", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            bench.parse_arguments(arguments)
        assert exit_info.value.code == 2


# ------------------------------------------------------------ refusals


def test_refuses_to_report_when_a_client_loses_a_sample(monkeypatch, capsys):
    original = bench.StockClient.op_get_samples

    def loses_one(self):
        original(self)
        self.state.samples = self.state.samples[:-1]

    monkeypatch.setattr(bench.StockClient, "op_get_samples", loses_one)
    import mxcubecore.HardwareRepository  # noqa: F401 (importing it sets HWR's level)

    levels = {name: logging.getLogger(name).level for name in bench.QUIET_LOGGERS}
    assert bench.main(["--samples", "5", "--collections", "1", "--images", "1", "--repeat", "1"]) == 1
    captured = capsys.readouterr()
    assert "refusing to report" in captured.err and "mxcubecore (suds): 4 samples" in captured.err
    assert "ratio" not in captured.out and "stock/ours" not in captured.out
    # The loggers are given back as they were.
    assert {name: logging.getLogger(name).level for name in bench.QUIET_LOGGERS} == levels


def test_refuses_to_report_when_an_update_is_lost(monkeypatch, capsys):
    monkeypatch.setattr(bench.OurClient, "op_update", lambda self: None)
    assert bench.main(["--samples", "5", "--collections", "2", "--images", "2", "--repeat", "1"]) == 1
    assert "has runStatus 'Running' after the update" in capsys.readouterr().err


# ------------------------------------------------------------ pieces


def test_fixture_gives_mx415_the_samples_asked_for():
    data = bench.make_fixture(37)
    bench_samples = [s for s in data["samples"] if s["name"].startswith("bench-")]
    assert len(bench_samples) == 37 and len({s["name"] for s in bench_samples}) == 37
    pucks = {c["code"]: c for c in data["containers"]}
    assert {s["container"] for s in bench_samples} <= set(pucks)
    assert all(pucks[s["container"]]["beamlineLocation"] == "ID-DEMO" for s in bench_samples)
    # Three pucks of 16; places 1..16, unique within a puck.
    places = {(s["container"], s["location"]) for s in bench_samples}
    assert len(places) == 37 and {location for _, location in places} <= set(range(1, 17))
    # idtest0's sample stays; mx415's demo samples are replaced.
    assert [s["name"] for s in data["samples"] if not s["name"].startswith("bench-")] == ["insu-01"]


def test_images_are_spread_over_the_collections():
    sizes = bench.Sizes(samples=1, collections=3, images=7)
    spread = [sizes.images_of(index) for index in range(3)]
    assert spread == [[1, 2, 3], [1, 2], [1, 2]]
    assert sum(len(numbers) for numbers in spread) == 7


def test_template_puts_the_floors_ids_back():
    body = (
        b"<e><ns0:op><dataCollection><dataCollectionGroupId>12</dataCollectionGroupId>"
        b"<dataCollectionId> 345 </dataCollectionId><x>1</x></dataCollection></ns0:op></e>"
    )
    template = bench.Template(body)
    assert template.slots == ["dataCollectionGroupId", "dataCollectionId"]
    assert template.captured == {"dataCollectionGroupId": 12, "dataCollectionId": 345}
    filled = template.fill({"dataCollectionGroupId": b"7", "dataCollectionId": b"99"})
    assert filled == body.replace(b"12", b"7").replace(b" 345 ", b"99")
    assert bench.Template(b"<a>no ids</a>").fill({}) == b"<a>no ids</a>"


def test_the_id_of_a_store_answer_is_read():
    answer = (
        b'<soap:Body><ns2:storeOrUpdateImageResponse xmlns:ns2="x"><imageId>42</imageId>'
        b"</ns2:storeOrUpdateImageResponse></soap:Body>"
    )
    assert bench._RETURN_INT.search(answer).group(2) == b"42"
