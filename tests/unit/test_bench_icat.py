"""tools/bench_icat.py runs at a tiny size and reports sane, complete results.

No test here asserts how fast either client is: timings depend on the
machine. They check the report's shape and consistency (every operation,
both clients, every ratio), that every pass was verified against the
emulator, and that the benchmark refuses to report a wrong result.
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

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "bench_icat.py"
SIZES = {"investigations": 20, "samples": 30, "datasets": 3}
TINY = ["--investigations", "20", "--samples", "30", "--datasets", "3", "--repeat", "2"]


def _import_tool():
    # tools/ is not a package; dataclasses need the module registered first.
    spec = importlib.util.spec_from_file_location("bench_icat", SCRIPT)
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


# ------------------------------------------------------------ a whole run


def test_tiny_run_prints_the_table_and_writes_a_consistent_json(tmp_path):
    target = tmp_path / "report.json"
    result = _run_script(*TINY, "--traced-rounds", "2", "--json", str(target))
    assert result.returncode == 0, result.stderr
    out = result.stdout

    # The table.
    assert re.search(
        r"^ICAT client benchmark: emulator at http://127\.0\.0\.1:\d+, investigation MX-415 .*not representative",
        out,
        re.M,
    ), out
    assert "20 generated investigations (3 offered to alice), 30 samples, 3 datasets of " in out
    assert "2 rounds (2 traced; medians)" in out
    assert "the floor does not" in out
    number, ratio = r"\s+[\d.]+", r"\s+[\d.]+x"
    for op in bench.OPERATIONS:
        assert re.search(rf"^  {op}\s+\d+/\d+{number}{number}{ratio}$", out, re.M), out
        assert re.search(rf"^  {op}{number}{number}{ratio}$", out, re.M), out
    assert "Traceback" not in result.stderr
    # mxcubecore's, our and python-icat's loggers were silenced.
    assert "HWR" not in result.stderr and "ICAT" not in result.stderr, result.stderr

    # The JSON written beside it.
    report = json.loads(target.read_text())
    assert {key: report[key] for key in SIZES} == SIZES and report["repeat"] == 2 and report["traced_rounds"] == 2
    assert report["proposal"] == "MX-415" and report["sessions_offered"] == 3
    assert report["floor_writes_metadata_json"] is False and report["parameters_per_dataset"] >= 10
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", report["server"])
    assert all(report["versions"][name] for name in ("mxcubecore", "python-icat", "suds", "gevent"))
    assert set(report["clients"]) == set(bench.CLIENTS)
    for key, client in report["clients"].items():
        assert set(client["operations"]) == set(bench.OPERATIONS), key
        # Two rounds, each a timed and a traced pass; each pass uploaded 3 verified datasets.
        assert client["passes"] == 4 and client["datasets"] == 4 * 3, key
        for op, data in client["operations"].items():
            assert len(data["ms"]) == 2 and all(value > 0 for value in data["ms"]), (key, op)
            assert data["median_ms"] == pytest.approx(statistics.median(data["ms"]))
            assert len(data["peak_bytes"]) == 2 and all(value > 0 for value in data["peak_bytes"]), (key, op)
            assert data["median_peak_bytes"] == pytest.approx(statistics.median(data["peak_bytes"]))
        requests = {op: data["requests"] for op, data in client["operations"].items()}
        assert requests["get_samples"] == 1 and requests["upload"] == 3, key
        assert requests["connect"] >= 3 and requests["login"] >= 6, key
    ours, floor = (report["clients"][key]["operations"] for key in bench.CLIENTS)
    assert ours["connect"]["requests"] == floor["connect"]["requests"]
    assert ours["login"]["requests"] >= floor["login"]["requests"]
    # The backlog (one round by default): 3 uploads direct, the same 3 journalled during an outage, drained.
    backlog = report["backlog"]
    assert backlog["rounds"] == 1 and backlog["writes"] == 3
    assert 3 <= backlog["waiting"] <= backlog["records"]
    assert backlog["drain_over_direct"] == pytest.approx(backlog["drain_ms"] / backlog["direct_ms"])
    assert re.search(r"^  backlog: 3 dataset uploads \(ours\) made while the emulator was stopped", out, re.M), out
    for op, ratio in report["ratios"].items():
        assert ratio["ours_over_floor"] == pytest.approx(ours[op]["median_ms"] / floor[op]["median_ms"])
        paired = [a / b for a, b in zip(ours[op]["ms"], floor[op]["ms"], strict=False)]
        assert ratio["ours_over_floor_per_round_median"] == pytest.approx(statistics.median(paired))
        assert ratio["peak_ours_over_floor"] == pytest.approx(
            ours[op]["median_peak_bytes"] / floor[op]["median_peak_bytes"]
        )


def test_bad_arguments_exit_2():
    for arguments in (
        ["--samples", "0"],
        ["--datasets", "0"],
        ["--repeat", "0"],
        ["--investigations", "-1"],
        ["--traced-rounds", "0"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            bench.parse_arguments(arguments)
        assert exit_info.value.code == 2


# ------------------------------------------------------------ refusals

SMALL = ["--investigations", "4", "--samples", "5", "--datasets", "1", "--repeat", "1"]


def test_refuses_to_report_when_a_client_loses_a_sample(monkeypatch, capsys):
    original = bench.Floor.op_get_samples

    def loses_one(self):
        original(self)
        self.state.sample_ids = self.state.sample_ids[:-1]

    monkeypatch.setattr(bench.Floor, "op_get_samples", loses_one)
    import mxcubecore.HardwareRepository  # noqa: F401 (importing it sets HWR's level)

    levels = {name: logging.getLogger(name).level for name in bench.QUIET_LOGGERS}
    assert bench.main(SMALL) == 1
    captured = capsys.readouterr()
    assert "refusing to report" in captured.err and "floor (bare python-icat): 4 samples, expected 5" in captured.err
    assert "ours/floor" not in captured.out
    # The loggers are given back as they were.
    assert {name: logging.getLogger(name).level for name in bench.QUIET_LOGGERS} == levels


def test_refuses_to_report_when_an_upload_is_lost(monkeypatch, capsys):
    original = bench.Ours.op_upload

    def skips_finalize(self):
        self.lims.finalize_data_collection = lambda dc: None
        try:
            original(self)
        finally:
            del self.lims.finalize_data_collection

    monkeypatch.setattr(bench.Ours, "op_upload", skips_finalize)
    assert bench.main(SMALL) == 1
    assert "datasets of the pass in the emulator, expected 1" in capsys.readouterr().err


# ------------------------------------------------------------ pieces


def test_fixture_and_the_sessions_it_implies():
    data = bench.make_fixture(40, 37)
    mx415 = data["investigations"][0]
    assert mx415["name"] == "MX-415" and len(mx415["samples"]) == 37
    assert len({s["name"] for s in mx415["samples"]}) == 37
    for sample in mx415["samples"]:
        params = sample["params"]
        assert {
            "SampleChanger_position",
            "SampleTrackingContainer_position",
            "SampleTrackingContainer_name",
            "SampleProtein_acronym",
        } <= set(params)
        assert 1 <= int(params["SampleTrackingContainer_position"]) <= 16
    generated = data["investigations"][1:]
    assert len(generated) == 40 and len({i["name"] for i in generated}) == 40
    assert {i["instruments"][0] for i in generated} == {"ID-DEMO", "ID-OTHER"}
    assert all(i["users"] == [{"user": "simple/alice", "role": "Principal investigator"}] for i in generated)
    assert sum("parameters" in i for i in generated) == 10
    # MX-415 and indexes 0, 10, 20, 30 (inside the window, on ID-DEMO).
    assert bench.expected_sessions(data) == 5
    assert bench.expected_sessions(bench.make_fixture(0, 1)) == 1
    # Only the reference data of the shipped fixture are kept.
    assert set(data) == {
        "facility",
        "logins",
        "users",
        "instruments",
        "investigation_types",
        "dataset_types",
        "sample_types",
        "parameter_types",
        "investigations",
    }
