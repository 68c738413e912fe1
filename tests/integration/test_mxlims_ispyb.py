"""MXLIMS shipments into ISPyB and session results out, through our ISPyB LIMS object and the emulator.

The shipment goes in through ``CrimsWebService.storeShipping`` (one atomic
call per shipment), ``get_samples`` then offers every pin as mxcubeweb shows
them; three are collected as the collect routines do it; the export, read
back over SOAP with ISPyB's crims account, is checked against the
emulator's rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent
import jsonschema
import pytest
from test_ispyb_lims import collection_dict, make_lims

from mxcubecore_lims.errors import LimsNotSupportedError, LimsUnavailableError, MxlimsShipmentError
from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Pin
from mxcubecore_lims.mxlims.mounts import mounted_samples
from mxcubecore_lims.mxlims.samples import Macromolecule, MacromoleculeSample
from mxcubecore_lims.mxlims.schema import document_schema
from mxcubecore_lims.testing.mxlims_shipments import merged, pin_shipment

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DOMAIN = "esrf.fr"
CRIMS = {"crims_username": "crims", "crims_password": "crims-password", "site_domain": DOMAIN}


def mx415(tmp_path: Path, server: Any, **keys: str) -> tuple[Any, Any]:
    lims = make_lims(tmp_path, server, **{**CRIMS, **keys})
    lims.login("mx415", "mx415-password", False)
    return lims, lims.set_active_session_by_id("mx415")


def counts(server: Any) -> dict[str, int]:
    return {t: len(server.store.rows(t)) for t in ("Shipping", "Dewar", "Container", "BLSample", "Crystal")}


def _resolve(document: MxlimsDocument, ref: Any) -> Any:
    assert ref is not None
    return document.resolve(ref)


def test_a_160_pin_shipment_becomes_the_samples_mxcube_lists(tmp_path: Path, ispyb_server: Any) -> None:
    lims, _ = mx415(tmp_path, ispyb_server)
    before = counts(ispyb_server)
    known = lims.get_samples("ISPyB")
    report = lims.import_mxlims(pin_shipment("MX415", pucks=10, first_position=3))
    assert report.created == {"shipment": 1, "dewar": 2, "container": 10, "sample": 160}
    after = counts(ispyb_server)
    assert {t: after[t] - before[t] for t in after} == {
        "Shipping": 1,
        "Dewar": 2,
        "Container": 10,
        "BLSample": 160,
        "Crystal": 160,
    }
    samples = lims.get_samples("ISPyB")
    assert len(samples) == len(known) + 160
    first = next(s for s in samples if s["sampleName"] == "lyso-shipment-P01-01")
    assert first["containerCode"] == "SHIPMENT-01"
    assert str(first["containerSampleChangerLocation"]) == "3"
    assert str(first["sampleLocation"]) == "1"
    assert first["proteinAcronym"] == "lyso"
    assert first["crystalSpaceGroup"] == "P43212"
    assert first["cellA"] == pytest.approx(79.1)
    assert first["code"] == "PIN-0101"
    assert first["diffractionPlan"]["aimedResolution"] == pytest.approx(1.8)
    assert first["diffractionPlan"]["experimentKind"] == "OSC"
    imported = [s for s in samples if str(s["sampleName"]).startswith(("lyso-shipment", "thau-shipment"))]
    places = {(str(s["containerSampleChangerLocation"]), int(s["sampleLocation"])) for s in imported}
    assert places == {(str(puck), pin) for puck in range(3, 13) for pin in range(1, 17)}
    (shipping,) = [r for r in ispyb_server.store.rows("Shipping") if r["shippingName"] == "shipment"]
    assert str(shipping["comments"]).startswith("MXLIMS shipment ")


def test_importing_again_creates_nothing(tmp_path: Path, ispyb_server: Any) -> None:
    lims, _ = mx415(tmp_path, ispyb_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=2, first_position=3))
    before = counts(ispyb_server)
    again = lims.import_mxlims(pin_shipment("MX415", pucks=2, first_position=3))
    assert again.created == {"shipment": 0, "dewar": 0, "container": 0, "sample": 0}
    assert again.existing == {"sample": 32}
    assert counts(ispyb_server) == before
    other = lims.import_mxlims(pin_shipment("MX415", pucks=1, first_position=5, name="second"))
    assert other.created["sample"] == 16  # another shipment is not mistaken for the first


def test_an_import_cut_off_leaves_whole_shipments_and_a_repeat_completes(tmp_path: Path, ispyb_server: Any) -> None:
    lims, _ = mx415(tmp_path, ispyb_server)
    both = merged(
        pin_shipment("MX415", pucks=1, first_position=3, name="first"),
        pin_shipment("MX415", pucks=1, first_position=4, name="second"),
    )

    def stop_after_one_shipping() -> None:
        while not any(call[1] == "storeShipping" for call in ispyb_server.calls):
            gevent.sleep(0.001)
        ispyb_server.stop()

    watcher = gevent.spawn(stop_after_one_shipping)
    before = counts(ispyb_server)
    # Each call waits before it runs, longer than stop() lets a request finish: the second one is cut off.
    ispyb_server.latency = 1.0
    with pytest.raises(LimsUnavailableError):
        lims.import_mxlims(both)
    watcher.join(timeout=5)
    partial = counts(ispyb_server)
    assert partial["Shipping"] - before["Shipping"] == 1  # one whole shipment, nothing of the other
    assert partial["BLSample"] - before["BLSample"] == 16
    ispyb_server.latency = 0.0
    ispyb_server.start()
    report = lims.import_mxlims(both)
    assert report.created["sample"] == 16 and report.existing == {"sample": 16}
    assert counts(ispyb_server)["BLSample"] - before["BLSample"] == 32


def test_a_protein_ispyb_does_not_know_is_refused_before_anything_is_stored(tmp_path: Path, ispyb_server: Any) -> None:
    lims, _ = mx415(tmp_path, ispyb_server)
    before = counts(ispyb_server)
    document = pin_shipment("MX415", pucks=2, acronyms=("lyso", "nope"))
    with pytest.raises(MxlimsShipmentError) as caught:
        lims.import_mxlims(document)
    (key,) = [k for k, m in document.of_type(Macromolecule) if m.acronym == "nope"]
    assert caught.value.pointer == f"/Macromolecule/{key}"
    assert "add it in ISPyB first" in caught.value.reason
    assert counts(ispyb_server) == before


def test_a_shipment_for_another_proposal_is_refused(tmp_path: Path, ispyb_server: Any) -> None:
    lims, _ = mx415(tmp_path, ispyb_server)
    before = counts(ispyb_server)
    with pytest.raises(MxlimsShipmentError) as caught:
        lims.import_mxlims(pin_shipment("IDTEST0", pucks=1))
    assert caught.value.pointer == "/Shipment/Shipment1/proposalCode"
    assert counts(ispyb_server) == before


def _collect(lims: Any, session_id: str, sample: dict[str, Any], prefix: str) -> int:
    dc = collection_dict(session_id)
    dc["fileinfo"].update(prefix=prefix, template=f"{prefix}_1_%05d.cbf", directory=f"/data/mx415/{prefix}")
    dc["sample_reference"] = {"blSampleId": sample["sampleId"]}
    dc["blSampleId"] = sample["sampleId"]
    collection_id, _ = lims.store_data_collection(dc, None)
    dc.update(collection_id=collection_id, wavelength=0.9762, transmission=50.0, detectorDistance=250.0)
    lims.update_data_collection(dc)
    for number in (1, 2, 3):
        lims.store_image(
            {
                "dataCollectionId": collection_id,
                "fileName": f"{prefix}_1_{number:05d}.cbf",
                "fileLocation": f"/data/mx415/{prefix}",
                "imageNumber": number,
            }
        )
    dc.update(status="Data collection successful")
    lims.finalize_data_collection(dc)
    return int(collection_id)


def test_the_export_holds_every_sample_and_collection_as_ispyb_has_them(tmp_path: Path, ispyb_server: Any) -> None:
    lims, session = mx415(tmp_path, ispyb_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=10, first_position=3))
    samples = lims.get_samples("ISPyB")
    chosen = [s for s in samples if str(s["sampleName"]).startswith("lyso-shipment-P01-0")][:3]
    collected = {_collect(lims, session.session_id, s, f"c{n}"): s for n, s in enumerate(chosen, start=1)}
    assert lims.outbox.wait_delivered(30.0)

    document = lims.export_mxlims()

    jsonschema.Draft202012Validator(document_schema()).validate(document.to_json_data())
    assert len(list(document.of_type(Pin))) == len(samples)
    results = [s for _, s in document.of_type(CollectionSweep) if s.role == "Result"]
    assert sorted(int(s.identifiers[DOMAIN]) for s in results if s.identifiers) == sorted(collected)
    for sweep in results:
        assert sweep.identifiers is not None
        row = ispyb_server.store.get("DataCollection", int(sweep.identifiers[DOMAIN]))
        group = ispyb_server.store.get("DataCollectionGroup", row["dataCollectionGroupId"])
        assert group["sessionId"] == int(session.session_id)
        assert sweep.path == row["imageDirectory"]
        assert sweep.number_images == row["numberOfImages"] == 3
        assert sweep.image_width == pytest.approx(row["axisRange"])
        assert sweep.exposure_time == pytest.approx(row["exposureTime"])
        assert sweep.energy == pytest.approx(12398.42 / 0.9762, abs=0.5)
        assert sweep.transmission == pytest.approx(50.0)
        images = [
            f"{i['fileLocation']}/{i['fileName']}"
            for i in ispyb_server.store.rows("Image", dataCollectionId=row["dataCollectionId"])
        ]
        assert sweep.extensions is not None and sweep.extensions[DOMAIN]["imageFiles"] == sorted(images)
        pin = _resolve(document, sweep.logistical_sample_ref)
        sample = _resolve(document, pin.sample_ref)
        assert isinstance(sample, MacromoleculeSample)
        assert sample.identifiers == {DOMAIN: str(collected[int(sweep.identifiers[DOMAIN])]["sampleId"])}
        experiment = _resolve(document, sweep.source_ref)
        assert isinstance(experiment, MxExperiment) and experiment.job_status == "Completed"
        assert experiment.identifiers == {DOMAIN: str(group["dataCollectionGroupId"])}


def test_the_export_reimports_into_a_fresh_ispyb_as_the_same_samples(
    tmp_path: Path, ispyb_server: Any, ispyb_server_factory: Any
) -> None:
    from mxcubecore import HardwareRepository as HWR

    for part in ("one", "two"):
        (tmp_path / part).mkdir()
    lims, _ = mx415(tmp_path / "one", ispyb_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=2, first_position=3))
    before = lims.get_samples("ISPyB")
    exported = lims.export_mxlims()
    assert len(mounted_samples(exported)) == len(before)
    HWR.uninit_hardware_repository()
    other, _ = mx415(tmp_path / "two", ispyb_server_factory())
    untouched = other.get_samples("ISPyB")
    report = other.import_mxlims(exported)
    # Every pin of the export, the fixture's own samples too (as shipments of their own).
    assert report.created["sample"] == len(before)
    after = other.get_samples("ISPyB")
    assert len(after) == len(untouched) + len(before)

    def comparable(sample: dict[str, Any]) -> tuple[Any, ...]:
        plan = sample.get("diffractionPlan") or {}
        return (
            sample["sampleName"],
            sample.get("proteinAcronym"),
            sample.get("containerCode"),
            str(sample.get("containerSampleChangerLocation")),
            str(sample.get("sampleLocation")),
            sample.get("crystalSpaceGroup"),
            sample.get("code"),
            sample.get("shippingName"),
            plan.get("aimedResolution"),
            plan.get("experimentKind"),
        )

    assert sorted(map(comparable, before)) == sorted(map(comparable, after[len(untouched) :]))


def test_the_export_needs_the_crims_account(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", False)
    lims.set_active_session_by_id("mx415")
    with pytest.raises(LimsNotSupportedError, match="crims"):
        lims.export_mxlims()
