"""ICAT ingestion messages as ESRF's route carries them: the dataset XML pyicat-plus publishes.

MXCuBE's stock ICATLIMS hands each dataset to pyicat-plus's
``IcatClient.store_dataset``, which sends it to the broker queue
``/queue/icatIngest`` (persistent) for an ingestion service to store in ICAT.
Facts used (pyicat-plus 3.0.2, the version mxcubecore 2.149 pins;
``_icat_messaging/serializers/dataset.py``, ``serializers/xml.py``,
``client/_internal/messaging.py``, ``client/defaults.py``):

* the body is UTF-8 XML, one line (newlines are removed), root
  ``<tns:dataset complete="true|false">`` in namespace ``http://www.esrf.fr/icat``;
* its children, in order: ``investigation`` (the proposal, lower case),
  ``instrument`` (the beamline, lower case), ``name``, ``location`` (the
  dataset's directory), ``startDate``, ``endDate`` (xs:dateTime),
  ``sample/name``, then one ``parameter`` (``name``, ``value``, all values
  text) per metadata key, the root fields repeated among them, plus
  ``machine``, ``software`` and ``complete``;
* pyicat-plus lists no datafiles (the ingester finds them in ``location``),
  though its schema (``models/xsd/dataset.py``) has ``datafile`` elements
  (``location`` required, then ``size`` and parameters) between ``sample`` and
  the parameters: ours list the images there;
* there is no message id: a dataset is known by its ``location``.

:func:`dataset_message` writes such a body from our :class:`DatasetRecord`
(so a site can point our objects at the ingestion service it already has);
:func:`read_dataset_message` reads one, from pyicat-plus or from us, into an
:class:`IngestDataset` (what an ingester stores), each problem a typed error
naming the element.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.icat.metadata import DatasetRecord

__all__ = [
    "INGEST_QUEUE",
    "NAMESPACE",
    "SOFTWARE",
    "IngestDataset",
    "dataset_message",
    "read_dataset_message",
]

NAMESPACE = "http://www.esrf.fr/icat"
#: pyicat-plus's default queue for datasets (``client/defaults.py``); destination ``/queue/icatIngest``.
INGEST_QUEUE = "icatIngest"
#: What our messages say in their ``software`` parameter.
SOFTWARE = "mxcubecore-lims"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_ROOT_FIELDS = ("investigation", "instrument", "name", "location", "startDate", "endDate")


@dataclass(frozen=True)
class IngestDataset:
    """One dataset to store in ICAT, as an ingestion message gives it.

    Attributes:
        proposal: The investigation's name as the message gives it (lower case).
        beamline: The instrument (lower case).
        name: The dataset's name.
        location: Its directory: what identifies it.
        start: Start of the acquisition.
        end: Its end.
        complete: Whether it finished normally.
        sample_name: The sample's name.
        parameters: Parameter name -> text value (as sent).
        datafiles: Full paths of the files the message lists (``tns:datafile``); pyicat-plus
            lists none, and the ingester then registers the files found in ``location``.
    """

    proposal: str
    beamline: str
    name: str
    location: str
    start: datetime | None
    end: datetime | None
    complete: bool
    sample_name: str | None
    parameters: dict[str, str] = field(default_factory=dict)
    datafiles: tuple[str, ...] = ()

    @property
    def investigation_id(self) -> int | None:
        """The ICAT investigation id, when the message carries ``investigationId`` (ICATLIMS does)."""
        value = self.parameters.get("investigationId", "")
        return int(value) if value.strip().isdigit() else None


def _text(value: Any) -> str:
    """A parameter value as pyicat-plus writes it: booleans as true/false, datetimes ISO, the rest str()."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.astimezone()).isoformat()
    return str(value)


def dataset_message(record: DatasetRecord, proposal: str, beamline: str, investigation_id: int | None = None) -> bytes:
    """The ingestion message of one dataset, in pyicat-plus's format.

    Args:
        record: The dataset, as our ICAT upload makes it.
        proposal: The proposal (investigation name), e.g. ``mx415``.
        beamline: The beamline the data was collected on.
        investigation_id: The ICAT investigation id, sent as ``investigationId``.

    Raises:
        LimsDataError: No location or no sample name (pyicat-plus requires both).
    """
    if not record.location:
        raise LimsDataError("Dataset", "location", record.location, "an ingestion message needs the directory")
    sample = record.sample_name or record.parameters.get("Sample_name")
    if not sample:
        raise LimsDataError("Dataset", "Sample_name", None, "an ingestion message needs the sample's name")
    start = _text(record.start or datetime.now())
    end = _text(record.end or datetime.now())
    roots = {
        "investigation": proposal.lower(),
        "instrument": beamline.lower(),
        "name": record.name,
        "location": record.location,
        "startDate": start,
        "endDate": end,
    }
    tns = f"{{{NAMESPACE}}}"
    root = etree.Element(f"{tns}dataset", nsmap={"tns": NAMESPACE})
    root.set("complete", _text(record.complete))
    for key in _ROOT_FIELDS:
        etree.SubElement(root, f"{tns}{key}").text = roots[key]
    etree.SubElement(etree.SubElement(root, f"{tns}sample"), f"{tns}name").text = str(sample)
    # The schema's datafile element (location required), which pyicat-plus's own
    # publisher leaves out: with it, the ingester need not scan the directory.
    for datafile in record.datafiles:
        etree.SubElement(etree.SubElement(root, f"{tns}datafile"), f"{tns}location").text = datafile.location
    parameters: dict[str, str] = {k: _text(v) for k, v in record.parameters.items() if v is not None}
    parameters.update(
        {
            "Sample_name": str(sample),
            "datasetName": record.name,
            "proposal": proposal.lower(),
            "beamlineID": beamline.lower(),
            "location": record.location,
            "startDate": start,
            "endDate": end,
            "machine": socket.getfqdn(),
            "software": SOFTWARE,
            "complete": _text(record.complete),
        }
    )
    if investigation_id is not None:
        parameters["investigationId"] = str(investigation_id)
    for name, value in parameters.items():
        element = etree.SubElement(root, f"{tns}parameter")
        etree.SubElement(element, f"{tns}name").text = name
        # pyicat-plus strips newlines from the whole body, values included: the same here.
        etree.SubElement(element, f"{tns}value").text = value.replace("\n", " ")
    # pyicat-plus's declaration, then the document on the same line.
    text: str = etree.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>' + text.encode("utf-8")


def _moment(value: str | None, element: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise LimsDataError("ingestion message", element, value, "not an ISO 8601 date-time") from error


def read_dataset_message(body: bytes | str) -> IngestDataset:
    """Reads one dataset ingestion message.

    Raises:
        LimsDataError: Not XML, not a ``tns:dataset``, or a required element
            (investigation, instrument, name, location) missing or empty, or a
            date that is not a date; the error names the element.
    """
    data = body.encode("utf-8") if isinstance(body, str) else body
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise LimsDataError("ingestion message", "body", data[:80], f"not XML: {error}") from error
    if root.tag != f"{{{NAMESPACE}}}dataset":
        raise LimsDataError("ingestion message", "root", str(root.tag), f"not a {{{NAMESPACE}}}dataset")

    def child(parent: Any, name: str) -> str | None:
        found = parent.find(f"{{{NAMESPACE}}}{name}")
        return None if found is None or found.text is None else str(found.text).strip()

    values = {key: child(root, key) for key in _ROOT_FIELDS}
    for key in ("investigation", "instrument", "name", "location"):
        if not values[key]:
            raise LimsDataError("ingestion message", key, values[key], "required, and missing or empty")
    sample = root.find(f"{{{NAMESPACE}}}sample")
    parameters: dict[str, str] = {}
    for element in root.findall(f"{{{NAMESPACE}}}parameter"):
        name = child(element, "name")
        if not name:
            raise LimsDataError("ingestion message", "parameter/name", None, "a parameter without a name")
        parameters[name] = child(element, "value") or ""
    datafiles = []
    for element in root.findall(f"{{{NAMESPACE}}}datafile"):
        location = child(element, "location")
        if not location:
            raise LimsDataError("ingestion message", "datafile/location", location, "a datafile without a location")
        datafiles.append(location)
    complete = (root.get("complete") or parameters.get("complete") or "true").strip().lower() != "false"
    return IngestDataset(
        proposal=str(values["investigation"]),
        beamline=str(values["instrument"]),
        name=str(values["name"]),
        location=str(values["location"]),
        start=_moment(values["startDate"], "startDate"),
        end=_moment(values["endDate"], "endDate"),
        complete=complete,
        sample_name=child(sample, "name") if sample is not None else None,
        parameters=parameters,
        datafiles=tuple(datafiles),
    )
