"""The beamline configuration ``tools/bench_loader.py`` generates, and its plan.

Not a benchmark itself. :func:`generate_config` writes exactly the number of
objects asked for, mixing formats as mxcubecore supports them (see the
benchmark's docstring), and returns the :class:`Plan` of every object: where
both loaders must put it, under which name, with which class and
``username``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MOCKUP = "mxcubecore.HardwareObjects.mockup"
MOTOR = f"{_MOCKUP}.MotorMockup"
ENERGY = f"{_MOCKUP}.EnergyMockup"
SHUTTER = f"{_MOCKUP}.ShutterMockup"
TRANSMISSION = f"{_MOCKUP}.TransmissionMockup"
SESSION = "mxcubecore.HardwareObjects.Session"
BEAMLINE = "mxcubecore.HardwareObjects.Beamline"

# --------------------------------------------------------------------------
# Generating the configuration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedObject:
    """One generated object, as both loaders must build it.

    Attributes:
        role_path: Roles from the beamline down to the object (``()`` for it).
        name: The name it is registered under (``/motors/energy_003_gap``).
        file: Its file, relative to the configuration directory.
        module: Module of its class (mxcubecore's XML ``class`` attribute).
        username: Its configured ``username`` (None where it has none).
    """

    role_path: tuple[str, ...]
    name: str
    file: str
    module: str
    username: str | None

    @property
    def class_name(self) -> str:
        """The class name, the last part of the module path for these classes."""
        return self.module.rsplit(".", 1)[1]

    @property
    def format(self) -> str:
        """``xml`` or ``yaml``."""
        return "xml" if self.file.endswith(".xml") else "yaml"


@dataclass
class Plan:
    """A generated configuration.

    Attributes:
        directory: Where the files are.
        objects: Every object, the beamline first.
        nested_in_yaml: Objects listed in a YAML ``objects:`` other than the beamline's.
        referenced_by_xml: Objects referenced by an XML ``<object href>``.
    """

    directory: Path
    objects: list[PlannedObject] = field(default_factory=list)
    nested_in_yaml: int = 0
    referenced_by_xml: int = 0

    def count(self, file_format: str) -> int:
        """Number of files of one format."""
        return sum(1 for planned in self.objects if planned.format == file_format)


def _xml_text(module: str, lines: list[str], comment: str) -> str:
    body = "\n".join(f"  {line}" for line in lines)
    return f'<!-- {comment} -->\n<object class="{module}">\n{body}\n</object>\n'


def _yaml_text(module: str, configuration: list[str], objects: dict[str, str], comment: str) -> str:
    parts = [f"# {comment}", f"class: {module}.{module.rsplit('.', 1)[1]}", "", "configuration:"]
    parts += [f"  {line}" for line in configuration]
    if objects:
        parts += ["", "objects:"] + [f"  {role}: {file}" for role, file in objects.items()]
    return "\n".join(parts) + "\n"


def _actuator_properties(kind: str, index: int, username: str) -> dict[str, Any]:
    """Scalar properties of one actuator, varied by index so files differ."""
    properties: dict[str, Any] = {"username": username, "actuator_name": f"{kind}_{index:04d}"}
    if kind in ("motor", "energy", "transmission"):
        low = -float(10 + index % 50) if kind == "motor" else float(4 + index % 3)
        high = float(20 + index % 7) if kind == "energy" else float(100 + index % 90)
        properties["default_value"] = round((low + high) / 2 + (index % 10) * 0.1, 3)
        properties["default_limits"] = [low, high]
        properties["tolerance"] = 0.001 * (1 + index % 5)
    properties["read_only"] = False
    properties["simulated"] = True  # undeclared: accepted by lax validation
    if kind == "motor":
        properties["velocity"] = 50 + index % 200
        properties["wrap_range"] = None
    return properties


def _xml_scalar(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)  # None, True, 1.5, text: mxcubecore's XML spelling


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def _xml_properties(properties: dict[str, Any]) -> list[str]:
    return [f"<{key}>{_xml_scalar(value)}</{key}>" for key, value in properties.items()]


def _yaml_properties(properties: dict[str, Any]) -> list[str]:
    return [f"{key}: {_yaml_scalar(value)}" for key, value in properties.items()]


def _xml_calibration(index: int) -> list[str]:
    """A nested complex property: a mapping with a repeated nested element."""
    points = [
        f"  <point><position>{step}</position><value>{step * 0.25 + index % 3}</value></point>" for step in range(3)
    ]
    return ["<calibration>", f"  <offset>{index % 7 * 0.5}</offset>", "  <unit>mm</unit>", *points, "</calibration>"]


def _yaml_calibration(index: int) -> list[str]:
    """A nested mapping with a list of mappings, the YAML twin of the XML one."""
    points = [f"    - {{position: {step}, value: {step * 0.25 + index % 3}}}" for step in range(3)]
    return ["calibration:", f"  offset: {index % 7 * 0.5}", "  unit: mm", "  points:", *points]


def _xml_filters(index: int) -> list[str]:
    """A repeated complex property (a list of mappings in both loaders)."""
    lines = ["<filters>"]
    for number, material in enumerate(("Al", "Cu", "Mo")):
        thickness = 25 * (number + 1) + index % 5
        lines += [
            "  <filter>",
            f"    <material>{material}</material>",
            f"    <thickness>{thickness}</thickness>",
            f"    <enabled>{number % 2 == 0}</enabled>",
            "  </filter>",
        ]
    return [*lines, "</filters>"]


class _Generator:
    """Writes objects and records them in the plan."""

    def __init__(self, directory: Path) -> None:
        self.plan = Plan(directory)
        self.top_roles: dict[str, str] = {}

    def write(self, relative: str, text: str) -> None:
        path = self.plan.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def add(self, role_path: tuple[str, ...], file: str, module: str, username: str | None) -> None:
        name = "/" + file.rsplit(".", 1)[0]
        self.plan.objects.append(PlannedObject(role_path, name, file, module, username))

    def actuator(
        self,
        role_path: tuple[str, ...],
        file: str,
        module: str,
        index: int,
        extra: list[str] | None = None,
        objects: dict[str, str] | None = None,
    ) -> None:
        """Writes one mockup actuator in the format its file name says."""
        kind = {MOTOR: "motor", ENERGY: "energy", SHUTTER: "shutter", TRANSMISSION: "transmission"}[module]
        # The serial number makes every username unique, so a mix-up shows.
        username = f"{kind.capitalize()} {len(self.plan.objects)}"
        properties = _actuator_properties(kind, index, username)
        comment = f"generated: {username} ({'/'.join(role_path)})"
        if file.endswith(".xml"):
            references = [f'<object href="/{target[:-4]}" role="{role}"/>' for role, target in (objects or {}).items()]
            text = _xml_text(module, _xml_properties(properties) + (extra or []) + references, comment)
        else:
            text = _yaml_text(module, _yaml_properties(properties) + (extra or []), objects or {}, comment)
        self.write(file, text)
        self.add(role_path, file, module, username)


# Units of the repeating pattern: (name, number of objects).
_UNITS = (
    ("yaml_assembly", 4),  # YAML EnergyMockup nesting two YAML motors and one XML motor
    ("xml_assembly", 3),  # XML TransmissionMockup referencing two XML motors by href
    ("xml_shutter", 1),
    ("yaml_shutter", 1),
    ("xml_motor", 1),
    ("yaml_motor", 1),
    ("yaml_transmission", 1),
    ("xml_energy", 1),
)

#: Smallest configuration that holds every unit once, plus beamline and session.
MIN_OBJECTS = 2 + sum(size for _, size in _UNITS)


def _write_unit(generator: _Generator, unit: str, index: int) -> None:
    """Writes one unit of the pattern as a role of the beamline."""
    if unit == "yaml_assembly":
        role = f"energy_{index:03d}"
        children = {
            "undulator_gap": f"motors/{role}_undulator_gap.yaml",
            "mono_angle": f"motors/{role}_mono_angle.yaml",
            "mono_pitch": f"motors/{role}_mono_pitch.xml",
        }
        generator.actuator((role,), f"{role}.yaml", ENERGY, index, objects=children)
        for number, (child_role, child_file) in enumerate(children.items()):
            extra = _xml_calibration(index) if child_file.endswith(".xml") else _yaml_calibration(index)
            generator.actuator((role, child_role), child_file, MOTOR, index * 10 + number, extra)
        generator.plan.nested_in_yaml += len(children)
    elif unit == "xml_assembly":
        role = f"attenuator_{index:03d}"
        children = {f"filter_{side}": f"motors/{role}_filter_{side}.xml" for side in ("a", "b")}
        generator.actuator((role,), f"{role}.xml", TRANSMISSION, index, _xml_filters(index), children)
        for number, (child_role, child_file) in enumerate(children.items()):
            generator.actuator((role, child_role), child_file, MOTOR, index * 10 + number, _xml_calibration(index))
        generator.plan.referenced_by_xml += len(children)
    else:
        file_format, kind = unit.split("_")
        module = {"motor": MOTOR, "shutter": SHUTTER, "transmission": TRANSMISSION, "energy": ENERGY}[kind]
        role = f"{kind}_{index:03d}"
        extra: list[str] = []
        if kind == "motor":
            extra = _xml_calibration(index) if file_format == "xml" else _yaml_calibration(index)
        generator.actuator((role,), f"{role}.{file_format}", module, index, extra)
    generator.top_roles[role] = f"{role}.yaml" if unit.startswith("yaml") else f"{role}.xml"


def _session_xml(directory: Path) -> str:
    """The session, shaped like configuration/demo/session.xml, data under ``directory``."""
    data = directory / "data"
    proposals = "".join(
        f"""
    <proposal>
      <code>{code}</code>
      <ldap>{ldap}</ldap>
      <ispyb>{ispyb}</ispyb>
      <gui>{gui}</gui>
    </proposal>"""
        for code, ldap, ispyb, gui in (
            ("ifx", "fx", "FX", "IFX"),
            ("fx", "fx", "FX", "FX"),
            ("mx", "mx", "MX", "MX"),
            ("opid", "opid", "OPID", "OPID"),
        )
    )
    return f"""<!-- generated session (shape of configuration/demo/session.xml) -->
<object class="{SESSION}">
  <synchrotron_name>BENCH</synchrotron_name>
  <beamline_name>ID-BENCH</beamline_name>
  <endstation_name>ID-BENCH</endstation_name>

  <file_info>
    <base_directory>{data / "raw"}</base_directory>
    <processed_data_base_directory>{data / "processed"}</processed_data_base_directory>
    <archive_base_directory>{data / "archive"}</archive_base_directory>
    <raw_data_folder_name>RAW_DATA</raw_data_folder_name>
    <processed_data_folder_name>PROCESSED_DATA</processed_data_folder_name>
    <archive_folder>ARCHIVE</archive_folder>
    <precision>4</precision>
  </file_info>

  <inhouse_users>
    <proposal>
      <code>opid</code>
      <number>30</number>
    </proposal>
    <proposal>
      <code>mx</code>
      <number>415</number>
    </proposal>
  </inhouse_users>

  <proposals>{proposals}
  </proposals>
</object>
"""


def _beamline_yaml(top_roles: dict[str, str]) -> str:
    objects = "\n".join(f"  {role}: {file}" for role, file in top_roles.items())
    return f"""# generated beamline for tools/bench_loader.py
class: {BEAMLINE}.Beamline

objects:
{objects}

configuration:
  tunable_wavelength: true
  disable_num_passes: false
  run_number: 1
  click_centring_num_clicks: 3
  available_methods:
    datacollection: true
    characterisation: false
    helical: false
    meshscan: false
  default_acquisition_parameters:
    default:
      first_image: 1
      num_images: 1
      exp_time: 0.04
      osc_range: 0.1
      detector_binning_mode: 1
      shutterless: true
"""


def generate_config(directory: Path, n_objects: int) -> Plan:
    """Writes a beamline configuration of exactly ``n_objects`` objects.

    The beamline and the session come first; the rest repeats the units of
    ``_UNITS`` in turn, falling back to the single-object units when a larger
    unit no longer fits, so the total is exact.

    Args:
        directory: An empty directory to write into.
        n_objects: Total number of objects, at least :data:`MIN_OBJECTS`.

    Returns:
        The plan of every generated object.

    Raises:
        ValueError: ``n_objects`` is below :data:`MIN_OBJECTS`.
    """
    if n_objects < MIN_OBJECTS:
        raise ValueError(f"need at least {MIN_OBJECTS} objects, got {n_objects}")
    generator = _Generator(directory)
    generator.add((), "beamline.yaml", BEAMLINE, None)
    generator.write("session.xml", _session_xml(directory))
    generator.add(("session",), "session.xml", SESSION, None)
    generator.top_roles["session"] = "session.xml"
    remaining = n_objects - 2
    index = 0
    while remaining > 0:
        unit, size = _UNITS[index % len(_UNITS)]
        index += 1
        if size > remaining:
            continue  # a single-object unit comes round within the cycle
        _write_unit(generator, unit, index)
        remaining -= size
    generator.write("beamline.yaml", _beamline_yaml(generator.top_roles))
    return generator.plan
