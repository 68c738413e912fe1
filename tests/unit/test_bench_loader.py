"""tools/bench_loader.py runs at a tiny size and reports sane results.

No test here asserts how fast either loader is: timings depend on the machine.
They check the generated configuration, the report's shape and consistency,
and that the benchmark refuses to report when a loader builds fewer objects
than were generated.
"""

from __future__ import annotations

import importlib.util
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from mxcubecore import HardwareRepository as HWR

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "bench_loader.py"
TINY = 20


def _import_tool():
    # tools/ is not a package; dataclasses need the module registered first.
    spec = importlib.util.spec_from_file_location("bench_loader", SCRIPT)
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
        timeout=240,
        cwd=SCRIPT.parents[1],
    )


@pytest.fixture(autouse=True)
def _clean_repository():
    HWR.uninit_hardware_repository()
    yield
    HWR.uninit_hardware_repository()


@pytest.mark.parametrize("size", [bench.MIN_OBJECTS, TINY, 41, 240])
def test_generates_exactly_the_requested_number_of_objects(tmp_path, size):
    plan = bench.generate_config(tmp_path, size)
    assert len(plan.objects) == size
    files = sorted(p for p in tmp_path.rglob("*") if p.suffix in (".xml", ".yaml"))
    assert len(files) == size
    assert {planned.file for planned in plan.objects} == {str(p.relative_to(tmp_path)) for p in files}
    assert len({planned.role_path for planned in plan.objects}) == size


def test_generated_configuration_mixes_formats_and_nesting(tmp_path):
    plan = bench.generate_config(tmp_path, TINY)
    assert plan.count("xml") > 0 and plan.count("yaml") > 0
    assert plan.nested_in_yaml > 0 and plan.referenced_by_xml > 0

    beamline = (tmp_path / "beamline.yaml").read_text()
    assert "class: mxcubecore.HardwareObjects.Beamline.Beamline" in beamline
    assert re.search(r"^  session: session\.xml$", beamline, re.MULTILINE)
    assert re.search(r"^  \w+: \w+\.yaml$", beamline, re.MULTILINE)
    assert 'class="mxcubecore.HardwareObjects.Session"' in (tmp_path / "session.xml").read_text()

    nested_yaml = [p for p in tmp_path.glob("*.yaml") if p.name != "beamline.yaml" and "objects:" in p.read_text()]
    assert nested_yaml
    assert any(line.strip().endswith(".xml") for line in nested_yaml[0].read_text().splitlines())
    xml_texts = [p.read_text() for p in tmp_path.rglob("*.xml")]
    assert any('<object href="/motors/' in text for text in xml_texts)
    # Nested XML complex properties, booleans and numbers.
    assert any("<calibration>" in text and "<point>" in text for text in xml_texts)
    assert any("<read_only>False</read_only>" in text for text in xml_texts)
    assert any("<velocity>" in text for text in xml_texts)


def test_refuses_sizes_below_the_minimum(tmp_path):
    with pytest.raises(ValueError):
        bench.generate_config(tmp_path, bench.MIN_OBJECTS - 1)
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_arguments(["--objects", str(bench.MIN_OBJECTS - 1)])
    assert exit_info.value.code == 2


def test_json_report_of_a_tiny_run():
    result = _run_script("--objects", str(TINY), "--repeat", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # nothing but the JSON on stdout

    assert report["objects"] == TINY
    assert report["files"]["xml"] + report["files"]["yaml"] == TINY
    assert report["repeat"] == 2
    for key in ("mxcubecore", "ours"):
        loader = report["loaders"][key]
        assert loader["objects_loaded"] == TINY
        assert len(loader["seconds"]) == 2 and len(loader["peak_bytes"]) == 2
        assert all(value > 0 for value in loader["seconds"] + loader["peak_bytes"])
        assert loader["median_seconds"] == pytest.approx(statistics.median(loader["seconds"]))
        assert loader["median_peak_bytes"] == pytest.approx(statistics.median(loader["peak_bytes"]))
    ours, theirs = report["loaders"]["ours"], report["loaders"]["mxcubecore"]
    assert report["ratio"]["time"] == pytest.approx(ours["median_seconds"] / theirs["median_seconds"])
    assert report["ratio"]["peak_memory"] == pytest.approx(ours["median_peak_bytes"] / theirs["median_peak_bytes"])
    paired = [mine / other for mine, other in zip(ours["seconds"], theirs["seconds"], strict=False)]
    assert report["ratio"]["time_per_round_median"] == pytest.approx(statistics.median(paired))


def test_table_report_of_a_tiny_run():
    result = _run_script("--objects", str(TINY), "--repeat", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Loader benchmark: {TINY} objects" in out
    assert "not representative" in out
    assert re.search(r"^  mxcubecore\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE), out
    assert re.search(r"^  mxcubecore-lims \(ours\)\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE), out
    assert re.search(r"^  ratio ours/mxcubecore\s+[\d.]+x\s+[\d.]+x$", out, re.MULTILINE), out
    assert re.search(r"^  \(median of per-round time ratios: [\d.]+x\)$", out, re.MULTILINE), out
    # mxcubecore's own loading table was silenced.
    assert "Done loading contents" not in out and "Time (ms)" not in out


def test_refuses_to_report_when_a_loader_builds_fewer_objects(monkeypatch, capsys):
    generate = bench.generate_config

    def generate_with_one_broken_object(directory, n_objects):
        plan = generate(directory, n_objects)
        # mxcubecore's loader logs this nested object's failure and goes on.
        nested = next(p for p in plan.objects if len(p.role_path) == 2 and p.format == "yaml")
        path = directory / nested.file
        path.write_text(path.read_text().replace("MotorMockup.MotorMockup", "MotorMockup.NoSuchMotor"))
        return plan

    monkeypatch.setattr(bench, "generate_config", generate_with_one_broken_object)
    assert bench.main(["--objects", str(TINY), "--repeat", "1"]) == 1
    captured = capsys.readouterr()
    assert "refusing to report" in captured.err
    assert f"mxcubecore loader built {TINY - 1} of {TINY} objects" in captured.err
    assert "ratio" not in captured.out
    assert HWR._instance is None and HWR.beamline is None


def test_verify_counts_a_missing_object(tmp_path):
    plan = bench.generate_config(tmp_path, bench.MIN_OBJECTS)
    loader = bench._our_loader()
    with bench.silenced():
        graph = loader.load(tmp_path)
    try:
        assert bench.verify(plan, graph.beamline).problems == []
        extra = bench.PlannedObject(("nowhere",), "/nowhere", "nowhere.xml", bench.MOTOR, "Motor 0")
        plan.objects.append(extra)
        result = bench.verify(plan, graph.beamline)
    finally:
        graph.close()
    assert result.loaded == bench.MIN_OBJECTS
    assert any("nowhere" in problem for problem in result.problems)


def test_warm_up_refuses_a_load_that_leaves_greenlets_running(tmp_path):
    import gevent

    plan = bench.generate_config(tmp_path, bench.MIN_OBJECTS)
    ours = bench._our_loader()
    spawned = []

    def load_and_spawn(directory):
        spawned.append(gevent.spawn(gevent.sleep, 30))
        return ours.load(directory)

    loader = bench.LoaderUnderTest("ours", "spawning", load_and_spawn, ours.beamline, ours.close)
    try:
        with pytest.raises(bench.RefusedError, match="greenlets running"):
            bench.warm_up(loader, plan, bench.Samples())
    finally:
        for greenlet in spawned:
            greenlet.kill()
