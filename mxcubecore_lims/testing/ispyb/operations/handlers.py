"""Which function handles each ``(service, operation)`` the emulated ISPyB offers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mxcubecore_lims.testing.ispyb.operations.collection import (
    find_data_collection,
    find_data_collection_by_images,
    find_detector_by_param,
    store_or_update_beamline_setup,
    store_or_update_data_collection,
    store_or_update_data_collection_group,
    store_or_update_energy_scan,
    store_or_update_image,
    store_or_update_xfe,
    store_robot_action,
)
from mxcubecore_lims.testing.ispyb.operations.common import BLSAMPLE, COLLECTION, CRIMS, SHIPPING, echo
from mxcubecore_lims.testing.ispyb.operations.crims import (
    get_all_data_collection_from_shipping_id,
    get_data_collection_from_shipping_id,
    store_shipping,
)
from mxcubecore_lims.testing.ispyb.operations.proposals import (
    find_laboratory_by_proposal,
    find_person_by_login,
    find_person_by_proposal,
    find_person_by_session_id_local_contact,
    find_proposal,
    find_proposal_by_login_and_beamline,
    find_proposals_by_login_name,
)
from mxcubecore_lims.testing.ispyb.operations.samples import (
    find_bl_sample,
    find_protein_acronyms_for_proposal,
    find_sample_info_light_for_proposal,
    store_or_update_bl_sample,
)
from mxcubecore_lims.testing.ispyb.operations.sessions import (
    find_session,
    find_sessions_by_proposal_and_beamline,
    store_or_update_session,
)

__all__ = ["CALLER_OPERATIONS", "HANDLERS"]

#: (service, operation) -> handler. Must cover exactly the operations of :data:`SERVICES`.
HANDLERS: dict[tuple[str, str], Callable[..., Any]] = {
    (SHIPPING.name, "echo"): echo,
    (SHIPPING.name, "findProposal"): find_proposal,
    (SHIPPING.name, "findProposalByLoginAndBeamline"): find_proposal_by_login_and_beamline,
    (SHIPPING.name, "findPersonByLogin"): find_person_by_login,
    (SHIPPING.name, "findPersonByProposal"): find_person_by_proposal,
    (SHIPPING.name, "findLaboratoryByProposal"): find_laboratory_by_proposal,
    (SHIPPING.name, "findLaboratoryByCodeAndNumber"): find_laboratory_by_proposal,
    (SHIPPING.name, "findProposalsByLoginName"): find_proposals_by_login_name,
    (SHIPPING.name, "findPersonBySessionIdLocalContact"): find_person_by_session_id_local_contact,
    (COLLECTION.name, "echo"): echo,
    (COLLECTION.name, "findSessionsByProposalAndBeamLine"): find_sessions_by_proposal_and_beamline,
    (COLLECTION.name, "findSession"): find_session,
    (COLLECTION.name, "storeOrUpdateSession"): store_or_update_session,
    (COLLECTION.name, "storeOrUpdateDataCollectionGroup"): store_or_update_data_collection_group,
    (COLLECTION.name, "storeOrUpdateDataCollection"): store_or_update_data_collection,
    (COLLECTION.name, "storeOrUpdateImage"): store_or_update_image,
    (COLLECTION.name, "storeOrUpdateBeamLineSetup"): store_or_update_beamline_setup,
    (COLLECTION.name, "findDetectorByParam"): find_detector_by_param,
    (COLLECTION.name, "storeRobotAction"): store_robot_action,
    (COLLECTION.name, "storeOrUpdateEnergyScan"): store_or_update_energy_scan,
    (COLLECTION.name, "storeOrUpdateXFEFluorescenceSpectrum"): store_or_update_xfe,
    (COLLECTION.name, "findDataCollection"): find_data_collection,
    (COLLECTION.name, "findDataCollectionFromImageDirectoryAndImagePrefixAndNumber"): find_data_collection_by_images,
    (BLSAMPLE.name, "echo"): echo,
    (BLSAMPLE.name, "findSampleInfoLightForProposal"): find_sample_info_light_for_proposal,
    (BLSAMPLE.name, "storeOrUpdateBLSample"): store_or_update_bl_sample,
    (BLSAMPLE.name, "findBLSample"): find_bl_sample,
    (BLSAMPLE.name, "findProteinAcronymsForProposal"): find_protein_acronyms_for_proposal,
    (CRIMS.name, "echo"): echo,
    (CRIMS.name, "storeShipping"): store_shipping,
    (CRIMS.name, "getDataCollectionFromShippingId"): get_data_collection_from_shipping_id,
    (CRIMS.name, "getAllDataCollectionFromShippingId"): get_all_data_collection_from_shipping_id,
}

#: The operations whose handler is also given the authenticated login, as ``caller=``
#: (ISPyB's ``sessionContext.getCallerPrincipal().getName()``).
CALLER_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {(CRIMS.name, "getDataCollectionFromShippingId"), (CRIMS.name, "getAllDataCollectionFromShippingId")}
)
