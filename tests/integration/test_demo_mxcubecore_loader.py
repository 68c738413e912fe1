"""The emulated beamline in configuration/demo loads with mxcubecore's own loader.

mxcubecore's loader logs failures instead of raising (a nested object that
fails to load is simply missing), so these tests check the result in detail:
every role of beamline.yaml is present with the expected class, nested roles
are attached, configured properties come through, and the loader's printed
summary table carries no error comments.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from mxcubecore import BaseHardwareObjects
from mxcubecore import HardwareRepository as HWR
from ruamel.yaml import YAML

pytestmark = pytest.mark.integration

DEMO_DIR = Path(__file__).resolve().parents[2] / "configuration" / "demo"

_MOCKUP = "mxcubecore.HardwareObjects.mockup"

# role -> (module, class name, configuration file), as in beamline.yaml
EXPECTED_ROLES = {
    "session": ("mxcubecore.HardwareObjects.Session", "Session", "session.xml"),
    "lims": (
        "mxcubecore_lims.HardwareObjects.ESRFLIMS",
        "ESRFLIMS",
        "lims.xml",
    ),
    "machine_info": (
        f"{_MOCKUP}.MachineInfoMockup",
        "MachineInfoMockup",
        "machine_info.yaml",
    ),
    "energy": (f"{_MOCKUP}.EnergyMockup", "EnergyMockup", "energy.yaml"),
    "transmission": (
        f"{_MOCKUP}.TransmissionMockup",
        "TransmissionMockup",
        "transmission.xml",
    ),
    "safety_shutter": (
        f"{_MOCKUP}.ShutterMockup",
        "ShutterMockup",
        "safety_shutter.xml",
    ),
    "fast_shutter": (f"{_MOCKUP}.ShutterMockup", "ShutterMockup", "fast_shutter.yaml"),
    "detector": (f"{_MOCKUP}.DetectorMockup", "DetectorMockup", "detector.yaml"),
    "resolution": (f"{_MOCKUP}.ResolutionMockup", "ResolutionMockup", "resolution.xml"),
    "beam": (f"{_MOCKUP}.BeamMockup", "BeamMockup", "beam.xml"),
    "flux": (f"{_MOCKUP}.FluxMockup", "FluxMockup", "flux.yaml"),
    "diffractometer": (
        f"{_MOCKUP}.DiffractometerMockup",
        "DiffractometerMockup",
        "diffractometer.yaml",
    ),
    "sample_view": ("mxcubecore.HardwareObjects.SampleView", "SampleView", "sample_view.xml"),
    "sample_changer": (
        f"{_MOCKUP}.SampleChangerMockup",
        "SampleChangerMockup",
        "sample_changer.xml",
    ),
    "collect": ("mxcubecore_lims.testing.beamline.DemoCollect", "DemoCollect", "collect.xml"),
    "queue_model": (
        "mxcubecore.HardwareObjects.QueueModel",
        "QueueModel",
        "queue_model.yaml",
    ),
    "queue_manager": (
        "mxcubecore.HardwareObjects.QueueManager",
        "QueueManager",
        "queue_manager.xml",
    ),
}

DIFFRACTOMETER_MOTORS = [
    "omega",
    "kappa",
    "kappa_phi",
    "phiy",
    "phiz",
    "sampx",
    "sampy",
    "focus",
]

# container role -> {nested role: (class name, file)}
EXPECTED_NESTED = {
    "lims": {
        "drac": ("ICATLIMS", "lims_icat.xml"),
        "ispyb": ("ProposalTypeISPyBLims", "lims_ispyb.xml"),
    },
    "detector": {"detector_distance": ("MotorMockup", "detector_distance.yaml")},
    "beam": {"aperture": ("ApertureMockup", "aperture.xml")},
    "diffractometer": {
        **{role: ("MotorMockup", f"motors/{role}.xml") for role in DIFFRACTOMETER_MOTORS},
        "zoom": ("MicrodiffZoomMockup", "motors/zoom.xml"),
    },
    "sample_view": {"camera": ("MDCameraMockup", "camera.xml")},
}

# Comments the loader writes for the beamline object itself; any other
# comment in the summary table reports a problem.
_ALLOWED_COMMENTS = {"", "Start loading contents:", "Done loading contents"}
_TABLE_COLUMNS = ("role", "Class", "file", "Time (ms)", "Comment")


def _reset_repository() -> None:
    HWR.uninit_hardware_repository()
    assert HWR._instance is None
    assert HWR.beamline is None


def _loader_table(output: str) -> list[tuple[str, ...]]:
    """Rows (role, class, file, time, comment) of the loader's summary table."""
    rows = []
    for line in output.splitlines():
        if not line.startswith("| "):
            continue
        cells = tuple(cell.strip() for cell in line[1:].split("|"))
        if cells[0] == "role":  # header
            continue
        assert len(cells) == len(_TABLE_COLUMNS), line
        rows.append(cells)
    return rows


class _Load:
    """Result of one init_hardware_repository() call."""

    def __init__(self, output, records, python_warnings):
        self.output = output
        self.records = records
        self.python_warnings = python_warnings
        self.table = _loader_table(output)
        self.beamline = HWR.beamline
        self.repository = HWR.get_hardware_repository()


def _load(capsys, caplog, config_validation="lax") -> _Load:
    """Load configuration/demo from scratch, capturing the loader's output."""
    _reset_repository()
    capsys.readouterr()  # discard earlier output
    caplog.clear()
    with caplog.at_level(logging.INFO), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HWR.init_hardware_repository(str(DEMO_DIR), config_validation=config_validation)
    output = capsys.readouterr().out
    return _Load(output, list(caplog.records), list(caught))


def _assert_clean(load: _Load) -> None:
    """The loader reported no failure for any object."""
    assert load.table, "the loader printed no summary table:\n" + load.output
    bad_rows = [row for row in load.table if row[4] not in _ALLOWED_COMMENTS]
    assert not bad_rows, "loader comments:\n" + load.output
    assert not [row for row in load.table if row[1] == "None"], load.output
    for word in ("Undeclared", "Error", "error", "No object loaded", "not found"):
        assert word not in load.output, load.output

    errors = [rec.getMessage() for rec in load.records if rec.levelno >= logging.ERROR]
    assert not errors, errors
    undeclared = [rec.getMessage() for rec in load.records if "Undeclared" in rec.getMessage()]
    assert not undeclared, undeclared
    # load_from_yaml warns when a container has no attribute for a nested role
    no_attribute = [str(w.message) for w in load.python_warnings if "has no attribute" in str(w.message)]
    assert not no_attribute, no_attribute


@pytest.fixture
def demo(capsys, caplog):
    """The demo beamline, loaded once for the test and unloaded afterwards."""
    load = _load(capsys, caplog)
    try:
        yield load
    finally:
        _reset_repository()


def test_beamline_yaml_lists_the_expected_roles():
    yaml = YAML(typ="safe", pure=True)
    config = yaml.load(DEMO_DIR / "beamline.yaml")
    assert config["class"] == "mxcubecore.HardwareObjects.Beamline.Beamline"
    assert config["objects"] == {role: fname for role, (_m, _c, fname) in EXPECTED_ROLES.items()}
    suffixes = {Path(fname).suffix for fname in config["objects"].values()}
    assert suffixes == {".xml", ".yaml"}


def test_every_file_starts_with_a_comment():
    files = sorted(DEMO_DIR.rglob("*.xml")) + sorted(DEMO_DIR.rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        first = path.read_text().lstrip()
        prefix = "<!--" if path.suffix == ".xml" else "#"
        assert first.startswith(prefix), path


def test_loader_reports_no_failures(demo):
    _assert_clean(demo)
    # The table lists the beamline's roles and the objects nested in YAML
    # files; objects referenced from XML files (beam -> aperture) are not in it.
    loaded_roles = {row[0] for row in demo.table}
    expected = set(EXPECTED_ROLES) | {"beamline"}
    for container_role in ("detector", "diffractometer"):
        expected |= set(EXPECTED_NESTED[container_role])
    assert loaded_roles == expected

    # The XML loader keeps its own record: (name, module, time, comment).
    xml_loaded = {name: (module, comment) for name, module, _time, comment in demo.repository.hwobj_info_list}
    expected_xml = (
        {f"/{fname[:-4]}" for _m, _c, fname in EXPECTED_ROLES.values() if fname.endswith(".xml")}
        | {"/aperture", "/lims_icat", "/lims_ispyb", "/camera", "/motors/zoom"}
        | {f"/motors/{role}" for role in DIFFRACTOMETER_MOTORS}
    )
    assert set(xml_loaded) == expected_xml
    for name, (module, comment) in xml_loaded.items():
        assert module.startswith(
            ("mxcubecore.HardwareObjects.", "mxcubecore_lims.HardwareObjects.", "mxcubecore_lims.testing.beamline.")
        ), name
        assert comment == "", (name, comment)


def test_every_role_has_the_expected_class(demo):
    beamline = demo.beamline
    assert type(beamline).__name__ == "Beamline"
    assert list(beamline.objects_by_role) == list(EXPECTED_ROLES)
    for role, (module, class_name, _fname) in EXPECTED_ROLES.items():
        hwobj = getattr(beamline, role)
        assert hwobj is not None, role
        assert hwobj is beamline.get_object_by_role(role)
        assert type(hwobj).__module__ == module, role
        assert type(hwobj).__name__ == class_name, role
        assert hwobj.name == role
        assert hwobj.id == role
        assert hwobj.hwobj_container is beamline


def test_nested_roles_are_attached(demo):
    beamline = demo.beamline
    for container_role, nested in EXPECTED_NESTED.items():
        container = getattr(beamline, container_role)
        assert set(container.objects_by_role) == set(nested), container_role
        for role, (class_name, _fname) in nested.items():
            child = container.get_object_by_role(role)
            assert type(child).__name__ == class_name, role
            assert child.hwobj_container is container
            assert child.id == f"{container_role}.{role}"
            assert beamline.get_by_id(f"{container_role}.{role}") is child

    # The objects also use their children.
    detector = beamline.detector
    assert detector.distance is detector.get_object_by_role("detector_distance")
    assert beamline.beam.aperture is beamline.beam.get_object_by_role("aperture")
    diffractometer = beamline.diffractometer
    assert list(diffractometer.get_motors()) == DIFFRACTOMETER_MOTORS
    assert diffractometer.omega is diffractometer.get_object_by_role("omega")


def test_session_is_configured(demo):
    session = demo.beamline.session
    assert session.synchrotron_name == "DEMO"
    assert session.beamline_name == "ID-DEMO"
    assert session.endstation_name == "ID-DEMO"

    assert session.base_directory == "/tmp/mxcubecore-lims-demo/data"
    assert session.base_process_directory == "/tmp/mxcubecore-lims-demo/processed"
    assert session.base_archive_directory == "/tmp/mxcubecore-lims-demo/archive"
    assert session.raw_data_folder_name == "RAW_DATA"
    assert session.processed_data_folder_name == "PROCESSED_DATA"
    assert session.get_base_image_directory().startswith("/tmp/mxcubecore-lims-demo/data/")

    assert session.in_house_users == [("opid", "30"), ("mx", "415")]
    assert session.is_inhouse("mx", "415")
    assert not session.is_inhouse("mx", "1")

    proposals = session.config.proposals["proposal"]
    by_code = {entry["code"]: entry for entry in proposals}
    assert set(by_code) == {"ifx", "fx", "mx", "opid"}
    assert by_code["ifx"] == {"code": "ifx", "ldap": "fx", "ispyb": "FX", "gui": "IFX"}
    assert by_code["mx"]["ispyb"] == "MX"
    for entry in proposals:
        assert set(entry) == {"code", "ldap", "ispyb", "gui"}


def test_session_is_reachable_by_name(demo):
    repository = HWR.get_hardware_repository()
    assert repository is demo.repository
    session = repository.get_hardware_object("/session")
    assert session is demo.beamline.session
    assert repository.get_hardware_object("session") is session
    assert repository.get_hardware_object("/aperture") is demo.beamline.beam.aperture
    assert repository.get_hardware_object("/motors/omega") is demo.beamline.diffractometer.omega


def test_properties_come_through(demo):
    beamline = demo.beamline

    energy = beamline.energy
    assert energy.default_value == pytest.approx(12.7)
    assert energy.get_value() == pytest.approx(12.7)
    assert energy.config.default_value == pytest.approx(12.7)
    assert tuple(energy.get_limits()) == (5.0, 20.0)
    assert energy.get_wavelength() == pytest.approx(12.398 / 12.7, rel=1e-3)

    assert beamline.transmission.get_value() == pytest.approx(50.0)
    assert tuple(beamline.transmission.get_limits()) == (0, 100)

    detector = beamline.detector
    assert detector.get_pixel_size() == (0.172, 0.172)
    assert (detector.get_width(), detector.get_height()) == (2463, 2527)
    assert detector.get_property("model") == "Pilatus3 6M"
    assert detector.distance.get_value() == pytest.approx(300.0)
    assert tuple(detector.distance.get_limits()) == (120.0, 900.0)
    assert detector.get_beam_position() == pytest.approx((1231.5, 1263.5))
    assert 1.0 < beamline.resolution.get_value() < 3.0

    width, height, _shape, label = beamline.beam.get_value()
    assert label == "A10"
    assert (width, height) == pytest.approx((0.01, 0.01))
    assert beamline.beam.get_beam_divergence() == (104, 6.5)

    assert beamline.flux.default_value == pytest.approx(5.0e12)
    assert beamline.flux.get_value() == pytest.approx(2.5e12, rel=1e-2)

    assert beamline.machine_info.get_current() == 200
    assert beamline.safety_shutter.get_value() is beamline.safety_shutter.VALUES.CLOSED
    assert beamline.fast_shutter.username == "Fast shutter"

    assert len(beamline.sample_changer.get_components()) == 5
    assert beamline.sample_changer.use_update_timer is False

    assert beamline.diffractometer.config.motors == DIFFRACTOMETER_MOTORS
    assert tuple(beamline.diffractometer.kappa.get_limits()) == (-5, 240)

    assert beamline.collect.bl_config.synchrotron_name == "DEMO"
    assert beamline.collect.bl_config.detector_model == "Pilatus3 6M"
    assert beamline.collect.bl_config.detector_px == 0.172

    assert beamline.queue_manager.pause_before_centring is False

    assert beamline.config.tunable_wavelength is True
    params = beamline.get_default_acquisition_parameters()
    assert params.exp_time == pytest.approx(0.04)
    assert params.energy == pytest.approx(12.7)
    assert params.transmission == pytest.approx(50.0)
    characterisation = beamline.get_default_acquisition_parameters("characterisation")
    assert characterisation.num_images == 4


def test_loading_twice_in_one_process(capsys, caplog):
    try:
        first = _load(capsys, caplog)
        _assert_clean(first)
        first_session = first.beamline.session

        second = _load(capsys, caplog)
        _assert_clean(second)
        assert second.beamline is not first.beamline
        assert second.repository is not first.repository
        assert second.beamline.session is not first_session
        assert list(second.beamline.objects_by_role) == list(EXPECTED_ROLES)
        assert HWR.get_hardware_repository().get_hardware_object("/session") is second.beamline.session
        assert second.beamline.session.beamline_name == "ID-DEMO"
        assert second.beamline.energy.get_value() == pytest.approx(12.7)
    finally:
        _reset_repository()


def test_loads_with_strict_config_validation(capsys, caplog):
    """beamline.yaml only uses properties declared by Beamline.HOConfig."""
    try:
        load = _load(capsys, caplog, config_validation="strict")
        _assert_clean(load)
        assert list(load.beamline.objects_by_role) == list(EXPECTED_ROLES)
    finally:
        BaseHardwareObjects.ConfiguredObject.HOConfig.set_validation_mode("lax")
        _reset_repository()
