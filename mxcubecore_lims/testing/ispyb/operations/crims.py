"""The operations of ``CrimsWebService``: a whole shipment stored from JSON, and its rows read back.

Modelled on ISPyB's ``CrimsWebService`` and ``External3ServiceBean``:

* ``storeShipping(proposalCode, proposalNumber, shipping)`` reads the JSON
  (:func:`~.gson.read_shipping`: a bad document is a Fault before anything
  else), finds the proposal (code as MySQL's ``LIKE`` compares it, so
  case-insensitively; number equal; none: an empty answer and nothing
  stored), then creates the Shipping, its Dewars, their Containers and
  their samples, all in one transaction (ISPyB's container-managed one):
  any failure stores nothing. Its answer is the JSON of
  ``getDataCollectionFromShippingId`` for the new shipping, whoever calls.
* ``getDataCollectionFromShippingId(shippingId)`` answers only the ``crims``
  login (``checkUserIsCrims``); the id is read as Java's
  ``Integer.parseInt`` reads it.

What each sample becomes (``External3ServiceBean.storeShipping``): with a
``crystalVO``, a new Crystal of the proposal's Protein of that ``acronym``
(compared case-insensitively, as MySQL does; ISPyB's reuse of a matching
crystal compares ``proteinVO.proteinId``, which a JSON protein of just an
acronym lacks, so it never applies) and the link to its container; with no
such protein, no crystal but still the container link (ISPyB sets the
container inside ``if (crystalVO != null)``, logs "No protein found" and goes
on). Without ``crystalVO``, neither crystal nor container. A
``diffractionPlanVO`` of the sample or of its crystal becomes a
DiffractionPlan row.

Primary keys sent in the JSON are ignored: every call creates new rows
(ISPyB's ``merge`` would update a row whose id it is given). Dates in the
answers are the store's ISO text (``YYYY-MM-DDTHH:MM:SS``); real ISPyB's Gson
writes its default date format (``Jan 5, 2024, 3:04:05 PM``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from mxcubecore_lims.testing.ispyb.operations.common import IspybFault, check_length, current_time, table_columns
from mxcubecore_lims.testing.ispyb.operations.gson import read_shipping, write_json
from mxcubecore_lims.testing.ispyb.store import TABLES, Store, columns

__all__ = [
    "ALL_DUMP_TABLES",
    "CRIMS_PRINCIPAL",
    "DUMP_TABLES",
    "get_all_data_collection_from_shipping_id",
    "get_data_collection_from_shipping_id",
    "shipping_rows",
    "store_shipping",
]

log = logging.getLogger(__name__)

#: The only login ``getDataCollectionFromShippingId`` answers (hard-coded in ISPyB).
CRIMS_PRINCIPAL = "crims"

#: The tables whose every column the shipping dump selects, as ``<Table>_<column>``.
DUMP_TABLES = ("Shipping", "Dewar", "Container", "BLSample", "DataCollectionGroup", "DataCollection", "Crystal")

_NPE = "java.lang.NullPointerException"
_JAVA_INT = re.compile(r"[+-]?[0-9]+")
#: ``Crystal3VO.checkValues`` (run by ``Crystal3Service.create``).
_CRYSTAL_LIMITS = {
    "crystalUUID": 45,
    "name": 255,
    "spaceGroup": 20,
    "morphology": 255,
    "color": 45,
    "comments": 255,
    "pdbFileName": 255,
    "pdbFilePath": 1024,
}


def _scalars(table: str, vo: dict[str, Any]) -> dict[str, Any]:
    """The VO's values that are columns of ``table``, without its primary key."""
    values = table_columns(table, vo)
    values.pop(TABLES[table][0], None)
    return values


def _each(found: list[dict[str, Any] | None] | None) -> Iterator[dict[str, Any]]:
    """A collection's elements; Java's for-each throws on a null collection or a null element."""
    if found is None:
        raise IspybFault(_NPE)
    for item in found:
        if item is None:
            raise IspybFault(_NPE)
        yield item


def _find_proposal(store: Store, code: str | None, number: str | None) -> dict[str, Any] | None:
    """``Proposal3Service.findByCodeAndNumber``: the first match, or ``None``."""
    found = store.query(
        'SELECT * FROM "Proposal" WHERE code LIKE ? AND number = ? ORDER BY proposalId',
        [code, number],
    )
    return found[0] if found else None


def _create_plan(store: Store, plan: dict[str, Any] | None) -> int | None:
    return None if plan is None else store.insert("DiffractionPlan", _scalars("DiffractionPlan", plan))


def _create_crystal(store: Store, proposal_id: int, crystal: dict[str, Any]) -> int | None:
    """``External3ServiceBean.createCrystal``: a crystal of the proposal's protein, or ``None`` without one."""
    protein = crystal.get("proteinVO")
    if protein is None:
        log.info("emulated ISPyB: storeShipping: a crystal without proteinVO (no crystal stored)")
        return None
    acronym = protein.get("acronym")
    found = store.query(
        'SELECT proteinId FROM "Protein" WHERE proposalId = ? AND lower(acronym) = lower(?) ORDER BY proteinId',
        [proposal_id, acronym],
    )
    if not found:
        log.info("emulated ISPyB: storeShipping: No protein found: %s", acronym)
        return None
    check_length(crystal, _CRYSTAL_LIMITS)
    values = _scalars("Crystal", crystal)
    values["proteinId"] = found[0]["proteinId"]
    values["diffractionPlanId"] = _create_plan(store, crystal.get("diffractionPlanVO"))
    return store.insert("Crystal", values)


def _create_sample(store: Store, proposal_id: int, container_id: int, sample: dict[str, Any]) -> int:
    """One sample: its crystal and the container link only when it came with a ``crystalVO``.

    ISPyB sets the container inside ``if (crystalVO != null)``, whether or
    not a protein matched: a sample without ``crystalVO`` belongs to no
    container; one whose acronym is unknown has no crystal but keeps its
    container.
    """
    values = _scalars("BLSample", sample)
    crystal = sample.get("crystalVO")
    if crystal is not None:
        values["crystalId"] = _create_crystal(store, proposal_id, crystal)
        values["containerId"] = container_id
    values["diffractionPlanId"] = _create_plan(store, sample.get("diffractionPlanVO"))
    return store.insert("BLSample", values)


def _create_shipping(store: Store, proposal_id: int, shipping: dict[str, Any]) -> int:
    """Creates the shipping and everything in it; returns its id (any failure raises)."""
    values = _scalars("Shipping", shipping)
    values["proposalId"] = proposal_id
    values["creationDate"] = current_time()
    dewars = shipping.get("dewarVOs")
    shipping_id = store.insert("Shipping", values)
    for dewar in _each(dewars):
        containers = dewar.get("containerVOs")
        dewar_id = store.insert("Dewar", {**_scalars("Dewar", dewar), "shippingId": shipping_id})
        for container in _each(containers):
            samples = container.get("sampleVOs")
            container_id = store.insert("Container", {**_scalars("Container", container), "dewarId": dewar_id})
            for sample in _each(samples):
                _create_sample(store, proposal_id, container_id, sample)
    return shipping_id


#: What ``getAllDataCollectionFromShippingId`` selects besides: each collection's images.
#: (ISPyB also joins Workflow and WorkflowMesh, which the emulator does not keep.)
ALL_DUMP_TABLES = (*DUMP_TABLES, "Image")


def shipping_rows(store: Store, shipping_id: int, with_images: bool = False) -> list[dict[str, Any]]:
    """``External3ServiceBean.getDataCollectionFromShippingId``: the shipping's flat rows (no login check).

    Shipping, left-joined down to its dewars, containers, the samples in them
    (with their crystals), the samples' data collection groups and their
    collections; every column of :data:`DUMP_TABLES` as ``<Table>_<column>``.

    Returns:
        One dict per row (``[]`` for an unknown shipping), in id order; dates
        as the stored ISO text.
    """
    tables = ALL_DUMP_TABLES if with_images else DUMP_TABLES
    select = ", ".join(f'"{t}"."{c}" AS "{t}_{c}"' for t in tables for c in columns(t))
    images = 'LEFT JOIN "Image" ON "Image".dataCollectionId = "DataCollection".dataCollectionId ' if with_images else ""
    return store.query(
        f"SELECT {select} "
        'FROM "Shipping" LEFT JOIN "Dewar" ON "Dewar".shippingId = "Shipping".shippingId '
        'LEFT JOIN "Container" ON "Container".dewarId = "Dewar".dewarId '
        'LEFT JOIN "BLSample" ON "BLSample".containerId = "Container".containerId '
        'LEFT JOIN "Crystal" ON "Crystal".crystalId = "BLSample".crystalId '
        'LEFT JOIN "DataCollectionGroup" ON "DataCollectionGroup".blSampleId = "BLSample".blSampleId '
        'LEFT JOIN "DataCollection" '
        'ON "DataCollection".dataCollectionGroupId = "DataCollectionGroup".dataCollectionGroupId '
        f'{images}WHERE "Shipping".shippingId = ? ORDER BY "Dewar".dewarId, "Container".containerId, '
        '"BLSample".blSampleId, "DataCollectionGroup".dataCollectionGroupId, "DataCollection".dataCollectionId'
        + (', "Image".imageId' if with_images else ""),
        [shipping_id],
    )


def store_shipping(
    store: Store,
    proposalCode: str | None = None,
    proposalNumber: str | None = None,
    shipping: str | None = None,
) -> str | None:
    """``storeShipping``: creates a whole shipment from its JSON, atomically; returns its rows as JSON.

    Args:
        store: The database.
        proposalCode: The proposal's code (``MX``; any case).
        proposalNumber: Its number, as text.
        shipping: The ``Shipping3VO`` as JSON (see :mod:`.gson`).

    Returns:
        The JSON list of :func:`shipping_rows` for the new shipping, or
        ``None`` (an empty ``return``) when the proposal is unknown.

    Raises:
        IspybFault: A bad JSON document (nothing looked up), a missing
            ``dewarVOs``/``containerVOs``/``sampleVOs`` or a null element of
            one (Java's ``NullPointerException``), a crystal field too long
            for its column; nothing is stored.
    """
    vo = read_shipping(shipping)
    with store.transaction():
        proposal = _find_proposal(store, proposalCode, proposalNumber)
        if proposal is None:
            return None
        if vo is None:  # Gson read an empty document or null
            raise IspybFault(_NPE)
        shipping_id = _create_shipping(store, proposal["proposalId"], vo)
        return write_json(shipping_rows(store, shipping_id))


def _java_int(text: str | None) -> int:
    """``Integer.parseInt``: an optional sign and ASCII digits, in 32-bit range."""
    if text is None:
        raise IspybFault("java.lang.NumberFormatException: null")
    if not _JAVA_INT.fullmatch(text) or not -(2**31) <= int(text) < 2**31:
        raise IspybFault(f'java.lang.NumberFormatException: For input string: "{text}"')
    return int(text)


def get_data_collection_from_shipping_id(store: Store, shippingId: str | None = None, caller: str = "") -> str:
    """``getDataCollectionFromShippingId``: the shipping's rows as JSON, for the ``crims`` login only.

    Args:
        store: The database.
        shippingId: The shipping's id, as text.
        caller: The authenticated login (the server passes it).

    Raises:
        IspybFault: ``Access not authorized to user: <login>`` for any
            other login; a ``shippingId`` that is not a Java int.
    """
    if caller != CRIMS_PRINCIPAL:
        raise IspybFault(f"Access not authorized to user: {caller}")
    return write_json(shipping_rows(store, _java_int(shippingId)))


def get_all_data_collection_from_shipping_id(store: Store, shippingId: str | None = None, caller: str = "") -> str:
    """``getAllDataCollectionFromShippingId``: as :func:`get_data_collection_from_shipping_id`, plus one row per image.

    Raises:
        IspybFault: As for ``getDataCollectionFromShippingId`` (``crims`` only, a Java int).
    """
    if caller != CRIMS_PRINCIPAL:
        raise IspybFault(f"Access not authorized to user: {caller}")
    return write_json(shipping_rows(store, _java_int(shippingId), with_images=True))
