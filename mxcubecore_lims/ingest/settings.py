"""The ingester's configuration file (YAML): the broker, its queues, and the LIMS it writes to.

Example (``mxcubecore-lims ingest --config ingest.yaml``)::

    broker:
      urls: [stomp+ssl://broker.example.org:61614]
      username: ingester
      password: ${file:/etc/mxcubecore-lims/broker.secret}
    queues:                       # the defaults
      writes: /queue/mxcubecore-lims.writes
      icat: /queue/icatIngest
      dead_letter: /queue/mxcubecore-lims.DLQ
    retries: 3                    # refusals by the LIMS before a message is dead-lettered
    icat:                         # consume ICAT datasets (ours and pyicat-plus's)
      url: https://icat.example.org
      plugin: simple
      username: ingester
      password: ${env:ICAT_INGESTER_PASSWORD}
    ispyb:                        # consume the other writes, with this configuration's ISPyB object
      configuration: /opt/mxcubecore-lims/ingester-beamline
      role: lims

Values may be ``${env:NAME}`` or ``${file:PATH}`` references, as in beamline
configuration files. Either ``icat`` or ``ispyb`` may be left out: that queue
is then not consumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mxcubecore_lims.broker import DEAD_LETTER_QUEUE, ICAT_QUEUE, WRITES_QUEUE, BrokerSettings
from mxcubecore_lims.config.values import resolve_reference
from mxcubecore_lims.errors import ConfigFileNotFoundError, ConfigSyntaxError, ConfigValueError, LimsConfigError

__all__ = ["IcatTarget", "IngestSettings", "IspybTarget", "read_settings"]


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class BrokerSection(_Strict):
    """``broker:``: where the broker is."""

    urls: list[str]
    username: str | None = None
    password: str | None = pydantic.Field(default=None, repr=False)
    ca_file: str | None = None
    tls_verify: bool = True
    receipt_timeout: float = 10.0


class Queues(_Strict):
    """``queues:``: what is consumed, and where refusals go."""

    writes: str = WRITES_QUEUE
    icat: str = ICAT_QUEUE
    dead_letter: str = DEAD_LETTER_QUEUE


class IcatTarget(_Strict):
    """``icat:``: the ICAT server and the service account that stores datasets."""

    url: str
    plugin: str = "simple"
    username: str
    password: str = pydantic.Field(repr=False)
    verify_tls: bool = True
    ca_file: str | None = None
    read_timeout: float = 20.0
    dataset_type: str = "acquisition"


class IspybTarget(_Strict):
    """``ispyb:``: a beamline configuration holding the ISPyB LIMS object to write with."""

    configuration: str
    role: str = "lims"


class IngestSettings(_Strict):
    """The whole file."""

    broker: BrokerSection
    queues: Queues = Queues()
    retries: int = pydantic.Field(default=3, ge=1)
    retry_wait: float = pydantic.Field(default=1.0, gt=0)
    retry_wait_max: float = pydantic.Field(default=30.0, gt=0)
    icat: IcatTarget | None = None
    ispyb: IspybTarget | None = None
    #: Where the file was read from (relative paths start there).
    source: str = ""

    def broker_settings(self) -> BrokerSettings:
        """The broker connection settings."""
        section = self.broker
        return BrokerSettings.of(
            section.urls,
            section.username,
            section.password,
            ca_file=section.ca_file,
            verify_tls=section.tls_verify,
            receipt_timeout=section.receipt_timeout,
        )


def _resolve(value: Any, base: Path, file: Path, path: str, line: int) -> Any:
    if isinstance(value, str):
        return resolve_reference(value, base, file, line, path)
    if isinstance(value, dict):
        lines = getattr(value, "lc", None)
        out = {}
        for key, item in value.items():
            where = line
            if lines is not None:
                try:
                    where = lines.key(key)[0] + 1
                except (KeyError, TypeError):
                    where = line
            out[str(key)] = _resolve(item, base, file, f"{path}.{key}" if path else str(key), where)
        return out
    if isinstance(value, list):
        return [_resolve(item, base, file, f"{path}[{i}]", line) for i, item in enumerate(value)]
    return value


def read_settings(path: str | Path) -> IngestSettings:
    """Reads and checks an ingester configuration file.

    Raises:
        LimsConfigError: The file is missing, not YAML, or a value is wrong
            (the error names the file, the line where known, and the field).
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigFileNotFoundError(f"no ingester configuration at {file}", reference=str(path))
    try:
        document = YAML(typ="rt").load(file.read_text(encoding="utf-8"))
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ConfigSyntaxError(f"not YAML: {error}", file, None if mark is None else mark.line + 1) from error
    if not isinstance(document, dict):
        raise LimsConfigError("an ingester configuration is a mapping (broker:, icat:, ispyb:)", file, 1)
    values = _resolve(document, file.parent, file, "", 1)
    try:
        settings = IngestSettings.model_validate({**values, "source": str(file)})
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        shown = first.get("input")
        if "password" in field:
            shown = "***"  # never a secret in a message
        raise ConfigValueError(f"{field}: {first['msg']} (got {shown!r})", file, None, field) from error
    if settings.icat is None and settings.ispyb is None:
        raise LimsConfigError("the ingester writes nowhere: give icat:, ispyb: or both", file, None)
    return settings
