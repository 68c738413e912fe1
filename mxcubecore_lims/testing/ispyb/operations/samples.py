"""The operations of ``ToolsForBLSampleWebService``: the samples a proposal has on a beamline."""

from __future__ import annotations

from typing import Any

from mxcubecore_lims.testing.ispyb.operations.common import BLSAMPLE, store_or_update, value_object
from mxcubecore_lims.testing.ispyb.store import Store

__all__ = [
    "find_bl_sample",
    "find_protein_acronyms_for_proposal",
    "find_sample_info_light_for_proposal",
    "store_or_update_bl_sample",
]


def find_sample_info_light_for_proposal(
    store: Store, proposalId: int | None = None, beamlineLocation: str | None = None
) -> list[dict[str, Any]]:
    """``findSampleInfoLightForProposal``: the proposal's samples being processed, with crystal, container and plan.

    The dewar and shipping come from the container's ``Dewar`` and its
    ``Shipping`` (rows ``storeShipping`` creates); a fixture-loaded container,
    which has neither, gives its own ``dewarCode`` and ``shippingName``.
    """
    rows = store.query(
        "SELECT s.blSampleId AS sampleId, s.name AS sampleName, s.code AS code, "
        "s.location AS sampleLocation, s.smiles AS smiles, s.holderLength AS holderLength, "
        "s.diffractionPlanId AS samplePlanId, "
        "p.acronym AS proteinAcronym, c.crystalId AS crystalId, "
        "c.spaceGroup AS crystalSpaceGroup, c.cellA AS cellA, c.cellB AS cellB, "
        "c.cellC AS cellC, c.cellAlpha AS cellAlpha, c.cellBeta AS cellBeta, "
        "c.cellGamma AS cellGamma, c.diffractionPlanId AS crystalPlanId, "
        "ct.sampleChangerLocation AS containerSampleChangerLocation, "
        "ct.code AS containerCode, ct.comments AS containerComments, "
        "ct.capacity AS containerCapacity, ct.containerType AS containerType, "
        "COALESCE(d.code, ct.dewarCode) AS dewarCode, d.dewarId AS dewarId, "
        "sh.shippingId AS shippingId, COALESCE(sh.shippingName, ct.shippingName) AS shippingName, "
        "sh.comments AS shippingComments "
        'FROM "BLSample" s JOIN "Crystal" c ON c.crystalId = s.crystalId '
        'JOIN "Protein" p ON p.proteinId = c.proteinId '
        'JOIN "Container" ct ON ct.containerId = s.containerId '
        'LEFT JOIN "Dewar" d ON d.dewarId = ct.dewarId '
        'LEFT JOIN "Shipping" sh ON sh.shippingId = d.shippingId '
        "WHERE p.proposalId = ? "
        "AND (ct.containerStatus LIKE 'processing' OR s.blSampleStatus LIKE 'processing') "
        "AND (ct.beamlineLocation LIKE ? OR ct.beamlineLocation = '' "
        "OR ct.beamlineLocation IS NULL) ORDER BY ct.containerId, s.blSampleId",
        [proposalId, beamlineLocation or ""],
    )
    out = []
    for row in rows:
        plan_id = row.pop("samplePlanId") or row.pop("crystalPlanId", None)
        row.pop("crystalPlanId", None)
        plan = store.get("DiffractionPlan", plan_id) if plan_id else None
        row["diffractionPlan"] = value_object(BLSAMPLE, "diffractionPlanWS3VO", plan) or {}
        if plan:
            row["minimalResolution"] = plan.get("minimalResolution")
            row["experimentType"] = plan.get("experimentKind")
        out.append({k: v for k, v in row.items() if v is not None})
    return out


def store_or_update_bl_sample(store: Store, blSample: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateBLSample``: creates or updates a sample of a crystal (0 ids mean none); returns its id."""
    if blSample is None:
        return None
    vo = dict(blSample)
    for key in ("diffractionPlanId", "crystalId", "containerId"):
        if vo.get(key) == 0:
            vo[key] = None
    if vo.get("crystalId") is None:
        return None
    return store_or_update(store, "BLSample", vo)


def find_bl_sample(store: Store, blSampleId: int | None = None) -> dict[str, Any] | None:
    """``findBLSample``: one sample by id, or ``None``."""
    row = store.get("BLSample", blSampleId) if blSampleId else None
    return value_object(BLSAMPLE, "blSampleWS3VO", row)


def find_protein_acronyms_for_proposal(
    store: Store, proposalCode: str | None = None, proposalNumber: str | None = None
) -> list[str]:
    """``findProteinAcronymsForProposal``: the acronyms of the proposal's proteins (none: an empty list).

    The proposal is looked up as ISPyB's ``findByCodeAndNumber`` does (code
    compared case-insensitively, as MySQL's ``LIKE``; number equal).
    """
    rows = store.query(
        'SELECT pr.acronym AS acronym FROM "Protein" pr JOIN "Proposal" p ON p.proposalId = pr.proposalId '
        "WHERE LOWER(p.code) = LOWER(?) AND p.number = ? ORDER BY pr.proteinId",
        [proposalCode or "", proposalNumber or ""],
    )
    return [str(r["acronym"]) for r in rows if r["acronym"] is not None]
