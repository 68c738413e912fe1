"""The main job: a scripted stretch of beamtime on the emulated beamline.

``mxcubecore-lims demo`` starts the emulated ISPyB (port 18080), ICAT (port
18181) and a real slapd (port 13389), loads ``configuration/demo`` (XML and
YAML mixed) with our loader, and then, as mxcubeweb and mxcubecore's collect
routines would:

1. logs in a proposal-type ISPyB user (``mx415``), a user-type ISPyB user
   (``alice``, password checked by LDAP) and an ICAT user through ESRFLIMS
   (``alice`` again, ICAT's account);
2. selects the investigation MX-415 (ESRFLIMS points ISPyB at MX415's session),
   imports an MXLIMS shipment (two pucks) into it and syncs the samples from ICAT;
3. runs collections with the calls AbstractCollect makes (store, update,
   images, final update, finalize), takes the ISPyB server down in the
   middle and brings it back;
4. waits for the outboxes to deliver what waited, exports the session's
   results as an MXLIMS document read back from ICAT, builds the session
   record (an HTML page), and reports what each LIMS now holds and what the
   outboxes did.

Journals go to a fresh temporary state directory, data (``metadata.json``)
to a fresh temporary data directory: a run never sees an earlier run's state.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.config.loader import LoadedBeamline, load_beamline

__all__ = ["BeamtimeReport", "run_beamtime"]


@dataclass
class BeamtimeReport:
    """What the demo did and found (also returned for tests)."""

    collections: int = 0
    provisional: int = 0
    ispyb_collections: list[dict[str, Any]] = field(default_factory=list)
    ispyb_images: int = 0
    icat_datasets: list[dict[str, Any]] = field(default_factory=list)
    icat_datafiles: int = 0
    metadata_files: int = 0
    outbox: dict[str, Any] = field(default_factory=dict)
    replay_seconds: float | None = None
    provisional_ids: dict[str, tuple[int, Any]] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=dict)
    ldap_skipped: str | None = None
    shipment_file: Path | None = None
    shipment_summary: str = ""
    results_file: Path | None = None
    exported_collections: int = 0
    record_file: Path | None = None
    broker: list[str] = field(default_factory=list)


class _Progress:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.started = time.monotonic()

    def __call__(self, step: str, text: str) -> None:
        self.out(f"[{time.monotonic() - self.started:5.1f} s] {step:<8} {text}")


def _collection_dict(directory: Path, prefix: str, run: int, sample: dict[str, Any], session_id: str) -> dict[str, Any]:
    """A collection dict as ``queue_model_objects.to_collect_dict`` and AbstractCollect build it."""
    return {
        "sessionId": session_id,
        "fileinfo": {
            "directory": str(directory),
            "prefix": prefix,
            "run_number": run,
            "suffix": "cbf",
            "template": f"{prefix}_{run}_%05d.cbf",
            "process_directory": str(directory / "process"),
        },
        "oscillation_sequence": [
            {
                "start": 0.0,
                "range": 0.1,
                "overlap": 0.0,
                "number_of_images": 3,
                "start_image_number": 1,
                "exposure_time": 0.04,
                "number_of_passes": 1,
            }
        ],
        "sample_reference": {
            "blSampleId": sample.get("limsID", sample.get("sampleId")),
            "sample_name": sample["sampleName"],
            "acronym": sample.get("proteinAcronym") or "",
        },
        "blSampleId": sample.get("limsID", sample.get("sampleId")),
        "actualContainerSlotInSC": int(sample["containerSampleChangerLocation"]),
        "actualSampleSlotInContainer": int(sample["sampleLocation"]),
        "experiment_type": "OSC",
        "status": "Running",
        "collection_start_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "synchrotronMode": "7/8 multibunch",
    }


def _collect(lims: Any, dc: dict[str, Any], camera_image: Path | None = None) -> Any:
    """The LIMS calls of one collection, in AbstractCollect's order.

    ``camera_image`` (the emulated beamline's camera picture) is saved as the
    crystal snapshot, as AbstractCollect saves one before collecting.
    """
    if camera_image is not None and camera_image.is_file():
        snapshot = Path(dc["fileinfo"]["directory"]) / f"{dc['fileinfo']['prefix']}_snapshot_1.jpg"
        shutil.copyfile(camera_image, snapshot)
        dc["xtalSnapshotFullPath1"] = str(snapshot)
    collection_id, _detector = lims.store_data_collection(dc, None)
    dc["collection_id"] = collection_id
    dc.update(
        flux=2.1e12,
        wavelength=0.9763,
        detectorDistance=210.0,
        resolution=1.8,
        transmission=25.0,
        xBeam=156.2,
        yBeam=163.8,
        beamSizeAtSampleX=0.05,
        beamSizeAtSampleY=0.03,
    )
    lims.update_data_collection(dc)
    for number in (1, 2, 3):
        lims.store_image(
            {
                "dataCollectionId": collection_id,
                "fileName": f"{dc['fileinfo']['prefix']}_{dc['fileinfo']['run_number']}_{number:05d}.cbf",
                "fileLocation": dc["fileinfo"]["directory"],
                "imageNumber": number,
                "measuredIntensity": 1.0e6,
                "synchrotronCurrent": 200.0,
            }
        )
    dc["status"] = "Data collection successful"
    lims.update_data_collection(dc)
    lims.finalize_data_collection(dc)
    return collection_id


def _start_servers(progress: _Progress, report: BeamtimeReport) -> Any:
    from mxcubecore_lims.testing.demo_servers import DemoServers

    servers = DemoServers().start()
    report.ldap_skipped = servers.ldap_missing
    for line in servers.describe():
        progress("servers", line)
    return servers


def run_beamtime(
    directory: Path,
    collections: int = 8,
    out: Callable[[str], None] = print,
    after_night: Callable[[Any], None] | None = None,
    broker: bool = False,
) -> BeamtimeReport:
    """Runs the scripted beamtime on the configuration in ``directory``.

    Args:
        directory: The demo configuration (``configuration/demo``).
        collections: How many collections to run (the ISPyB server is down
            for the middle third of them).
        out: Where progress and the report go, line by line.
        after_night: Called with the ESRFLIMS object once everything is
            delivered, while the servers still run (tests look at the LIMS then).
        broker: The broker route (``demo --broker``): ICAT and ISPyB written by
            two ingesters from a real ActiveMQ (:mod:`.broker_night`).

    Returns:
        What happened, for tests.
    """
    from mxcubecore import HardwareRepository as HWR

    report = BeamtimeReport()
    progress = _Progress(out)
    state = tempfile.mkdtemp(prefix="mxcubecore-lims-demo-state-")
    data = Path(tempfile.mkdtemp(prefix="mxcubecore-lims-demo-data-"))
    os.environ["MXCUBECORE_LIMS_STATE_DIR"] = state
    servers = _start_servers(progress, report)
    ispyb, icat, slapd = servers.ispyb, servers.icat, servers.slapd
    graph: LoadedBeamline | None = None
    night = None
    try:
        if broker:
            from mxcubecore_lims.demo.broker_night import BrokerNight, broker_configuration

            night = BrokerNight(servers, data / "broker").start()
            if night.access is None:
                raise RuntimeError("the demo's broker did not start")
            directory = broker_configuration(directory, night.access)
            progress("broker", f"Debian ActiveMQ at {night.access.url}; 2 ingesters write ICAT and ISPyB")
        graph = load_beamline([directory])
        files = {entry.path for entry in graph.objects.values()}
        xml = sum(1 for f in files if f.suffix == ".xml")
        progress(
            "config",
            f"{directory}: {len(graph.objects)} objects from {len(files)} files ({xml} XML, {len(files) - xml} YAML)",
        )
        lims = HWR.beamline.lims
        ispyb_lims = lims.members()["ispyb"]

        # -- logins ---------------------------------------------------------
        manager = ispyb_lims.login("mx415", "mx415-password", False)
        names = ", ".join(f"{s.proposal_name} on {s.beamline_name}" for s in manager.sessions)
        report.logins["proposal-type ISPyB"] = names
        progress("login", f"proposal-type ISPyB: mx415 -> session(s) {names}")
        ispyb_lims.remove_user(ispyb_lims.get_user_name())
        if slapd is not None:
            user_lims = HWR.get_hardware_repository().get_hardware_object("/lims_user")
            manager = user_lims.login("alice", "alice-secret", False)
            names = ", ".join(f"{s.proposal_name} on {s.beamline_name}" for s in manager.sessions)
            report.logins["user-type ISPyB"] = f"{user_lims.get_full_user_name()}: {names}"
            progress("login", f"user-type ISPyB: alice (LDAP) -> {user_lims.get_full_user_name()}, {names}")
            user_lims.remove_user("alice")
        manager = lims.login("alice", "alice-pw", False)
        offered = ", ".join(f"{s.proposal_name} ({s.beamline_name})" for s in manager.sessions)
        report.logins["ICAT through ESRFLIMS"] = offered
        progress("login", f"ESRFLIMS (ICAT): alice -> {lims.get_full_user_name()}, investigations {offered}")

        # -- session and samples ----------------------------------------------
        chosen = next(s for s in manager.sessions if s.proposal_name == "MX-415")
        lims.set_active_session_by_id(chosen.session_id)
        progress(
            "session",
            f"{chosen.proposal_name}: ICAT investigation {chosen.session_id}, "
            f"ISPyB session {ispyb_lims.get_session_id()}",
        )
        _import_shipment(lims, data, report, progress)
        samples = lims.get_samples("ICAT")
        for sample in samples:  # mxcubeweb's in-place rename
            sample["limsID"] = sample.pop("sampleId")
        progress("samples", f"{len(samples)} from ICAT: " + ", ".join(s["sampleName"] for s in samples))

        # -- collections, with ISPyB down for the middle third -----------------
        down_from, up_from = collections // 3, 2 * collections // 3
        back_at: float | None = None
        for index in range(collections):
            if index == down_from:
                ispyb.stop()
                progress("fault", "ISPyB server stopped")
            if index == up_from:
                if night is not None and night.wait_until_held():
                    progress("fault", "an ingester holds an ISPyB write until ISPyB answers; the beamline goes on")
                ispyb.start()
                back_at = time.monotonic()
                progress(
                    "fault",
                    "ISPyB server back: "
                    + ("the ingesters write what waited" if night is not None else "the outbox replays what waited"),
                )
            sample = samples[index % len(samples)]
            prefix = sample["sampleName"]
            run = index // len(samples) + 1
            folder = data / prefix / f"run_{run}"
            folder.mkdir(parents=True, exist_ok=True)
            collection_id = _collect(
                lims, _collection_dict(folder, prefix, run, sample, chosen.session_id), directory / "oav.jpg"
            )
            report.collections += 1
            waiting = night is None and collection_id is not None and collection_id < 0
            report.provisional += int(waiting)
            if waiting:
                report.provisional_ids[f"{prefix}_{run}"] = (collection_id, None)
            progress(
                "collect",
                f"{index + 1}/{collections} {prefix}_{run}: id {collection_id}"
                + (" (provisional: waiting in the outbox)" if waiting else "")
                + (" (published: the ingesters write it)" if night is not None else ""),
            )
            if back_at is not None and report.replay_seconds is None and not ispyb_lims.outbox.status().pending:
                report.replay_seconds = time.monotonic() - back_at

        # -- replay -----------------------------------------------------------
        for role, member in lims.members().items():
            if not member.outbox.wait_delivered(60.0):
                progress("outbox", f"{role}: records still waiting after 60 s")
        if back_at is not None and report.replay_seconds is None:
            report.replay_seconds = time.monotonic() - back_at
        if night is not None:
            waited = night.wait_written(
                collections, lambda: icat.store.find("Dataset", investigation=int(chosen.session_id))
            )
            progress(
                "broker",
                f"ingesters wrote every collection to ISPyB and ICAT ({waited:.1f} s after the last publish)"
                if waited is not None
                else "ingesters still writing after 180 s",
            )
        for name, (provisional, _) in report.provisional_ids.items():
            report.provisional_ids[name] = (provisional, ispyb_lims.outbox.real_id("collection", provisional))
        progress(
            "outbox",
            "every waiting record delivered"
            + (f", {report.replay_seconds:.1f} s after ISPyB came back" if report.replay_seconds is not None else ""),
        )
        _export_results(lims, data, report, progress)
        _write_record(lims, data, report, progress)
        _fill_report(report, lims, ispyb, icat, chosen, ispyb_lims, data)
        if after_night is not None:
            after_night(lims)
    finally:
        if graph is not None:
            graph.close()
        if night is not None:
            statuses = night.close()
            report.broker = [*night.describe(), f"ingesters stopped with SIGTERM: exit statuses {statuses}"]
        servers.close()
    for line in _format(report, state, data):
        out(line)
    return report


def _import_shipment(lims: Any, data: Path, report: BeamtimeReport, progress: _Progress) -> None:
    """What a user sends before the night: an MXLIMS shipment, imported into the session."""
    from mxcubecore_lims.mxlims.document import load_document
    from mxcubecore_lims.testing.mxlims_shipments import pin_shipment

    path = pin_shipment("MX415", pucks=2, pins_per_puck=4, name="night", first_position=3).write(
        data / "shipment.mxlims.json"
    )
    report.shipment_file = path
    report.shipment_summary = lims.import_mxlims(load_document(path)).summary()
    progress("mxlims", f"shipment {path} imported: {report.shipment_summary}")


def _export_results(lims: Any, data: Path, report: BeamtimeReport, progress: _Progress) -> None:
    """What the user gets after the night: the session's results, read back from the LIMS, as MXLIMS."""
    from mxcubecore_lims.mxlims.datasets import CollectionSweep

    document = lims.export_mxlims()
    report.results_file = document.write(data / "results.mxlims.json")
    report.exported_collections = sum(1 for _, s in document.of_type(CollectionSweep) if s.role == "Result")
    progress(
        "mxlims",
        f"results read back from ICAT: {report.exported_collections} collections, "
        f"{len(document)} objects -> {report.results_file}",
    )


def _write_record(lims: Any, data: Path, report: BeamtimeReport, progress: _Progress) -> None:
    """The session record people read: built from the LIMS and the outbox, written as one HTML page."""
    from mxcubecore_lims.record.builder import build_record
    from mxcubecore_lims.record.writer import write_record

    record = build_record(lims)
    (report.record_file,) = write_record(record, data / "session-record.html")
    progress(
        "record",
        f"{len(record.collections)} collections, {len(record.pending)} writes waiting -> {report.record_file}",
    )


def _fill_report(
    report: BeamtimeReport, lims: Any, ispyb: Any, icat: Any, chosen: Any, ispyb_lims: Any, data: Path
) -> None:
    session_id = ispyb_lims.get_session_id()
    groups = {g["dataCollectionGroupId"] for g in ispyb.store.rows("DataCollectionGroup", sessionId=int(session_id))}
    report.ispyb_collections = [
        row for row in ispyb.store.rows("DataCollection") if row.get("dataCollectionGroupId") in groups
    ]
    ids = {row["dataCollectionId"] for row in report.ispyb_collections}
    report.ispyb_images = sum(1 for image in ispyb.store.rows("Image") if image["dataCollectionId"] in ids)
    datasets = icat.store.find("Dataset", investigation=int(chosen.session_id))
    report.icat_datasets = [
        {
            "name": d["name"],
            "parameters": len(icat.store.children("Dataset", d["id"], "parameters")),
            "datafiles": len(icat.store.children("Dataset", d["id"], "datafiles")),
        }
        for d in datasets
    ]
    report.icat_datafiles = sum(d["datafiles"] for d in report.icat_datasets)
    report.metadata_files = len(list(data.rglob("metadata.json")))
    for role, member in lims.members().items():
        status = member.outbox.status()
        report.outbox[role] = {
            "delivered": status.delivered,
            "pending": status.pending,
            "failed": status.failed,
            "waited": status.deferred,
            "last_error": status.last_error,
        }


def _format(report: BeamtimeReport, state: str, data: Path) -> list[str]:
    lines = ["", "What the LIMS hold now", "======================"]
    for who, what in report.logins.items():
        lines.append(f"login {who}: {what}")
    if report.ldap_skipped:
        lines.append(f"user-type login skipped: slapd not available ({report.ldap_skipped})")
    statuses = sorted({str(row.get("runStatus")) for row in report.ispyb_collections})
    lines.append(
        f"ISPyB: {len(report.ispyb_collections)} data collections in the session "
        f"(run status: {', '.join(statuses) or '-'}), {report.ispyb_images} images attached"
    )
    lines.append(
        f"ICAT:  {len(report.icat_datasets)} datasets in MX-415, {report.icat_datafiles} datafiles, "
        f"{sum(d['parameters'] for d in report.icat_datasets)} parameters; "
        f"{report.metadata_files} metadata.json files under {data}"
    )
    for dataset in report.icat_datasets:
        lines.append(
            f"       {dataset['name']:<14} {dataset['parameters']:3d} parameters  {dataset['datafiles']} files"
        )
    lines.append(
        f"Collections run: {report.collections}; {report.provisional} got provisional ids "
        "(ISPyB down, or still catching up on what waited):"
    )
    for name, (provisional, real) in report.provisional_ids.items():
        lines.append(f"       {name:<14} provisional id {provisional} -> ISPyB id {real}")
    for role, numbers in report.outbox.items():
        lines.append(
            f"Outbox {role:<6} delivered {numbers['delivered']:3d} records, {numbers['waited']:3d} of them "
            f"waited for the replay; pending {numbers['pending']}, failed {numbers['failed']}"
        )
    if report.results_file is not None:
        lines.append(f"MXLIMS: shipment {report.shipment_file} ({report.shipment_summary})")
        lines.append(f"        results {report.results_file} ({report.exported_collections} collections)")
    if report.record_file is not None:
        lines.append(f"Session record (open in a browser): {report.record_file}")
    lines.extend(report.broker)
    lines.append(f"Journals: {state}")
    return lines
