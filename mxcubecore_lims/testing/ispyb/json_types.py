"""The value objects ``CrimsWebService.storeShipping`` reads from its JSON argument.

ISPyB fills ``Shipping3VO`` and what it nests with Gson, so the JSON keys are
the Java field names (case-sensitive: a dewar's barcode is ``barCode``, a
container's ``barcode``). None of these classes is in a WSDL (the operation
takes and returns strings). Samples and diffraction plans are the
``blSample3VO`` and ``diffractionPlan3VO`` of :mod:`.schema`; the others are
listed here. The store makes its ``Shipping``, ``Dewar``, ``Container`` and
``Crystal`` columns of these fields.
"""

from __future__ import annotations

from mxcubecore_lims.testing.ispyb.schema import SERVICES, Param

__all__ = ["JSON_VALUE_OBJECTS", "NESTING", "value_object_fields"]

#: Value object -> its scalar fields, ``"name:type ..."`` (XSD simple types).
JSON_VALUE_OBJECTS: dict[str, str] = {
    "shipping3VO": (
        "comments:string creationDate:dateTime dateOfShippingToUser:dateTime "
        "deliveryAgentAgentCode:string deliveryAgentAgentName:string "
        "deliveryAgentDeliveryDate:dateTime deliveryAgentFlightCode:string "
        "deliveryAgentShippingDate:dateTime isStorageShipping:boolean laboratoryId:int "
        "returnCourier:string shippingId:int shippingName:string shippingStatus:string "
        "shippingType:string timeStamp:dateTime"
    ),
    "dewar3VO": (
        "barCode:string code:string comments:string customsValue:int dewarId:int "
        "dewarStatus:string facilityCode:string isReimbursed:boolean isStorageDewar:boolean "
        "storageLocation:string timeStamp:dateTime trackingNumberFromSynchrotron:string "
        "trackingNumberToSynchrotron:string transportValue:int type:string"
    ),
    "container3VO": (
        "barcode:string beamlineLocation:string capacity:int code:string containerId:int "
        "containerStatus:string containerType:string sampleChangerLocation:string "
        "timeStamp:dateTime"
    ),
    "crystal3VO": (
        "name:string spaceGroup:string cellA:double cellB:double cellC:double "
        "cellAlpha:double cellBeta:double cellGamma:double comments:string color:string "
        "crystalId:int crystalUUID:string morphology:string pdbFileName:string "
        "pdbFilePath:string sizeX:double sizeY:double sizeZ:double"
    ),
    "protein3VO": "acronym:string name:string proteinId:int",
}

#: Value object -> {JSON key: (value object of the nested value(s), a collection?)}.
NESTING: dict[str, dict[str, tuple[str, bool]]] = {
    "shipping3VO": {"dewarVOs": ("dewar3VO", True)},
    "dewar3VO": {"containerVOs": ("container3VO", True)},
    "container3VO": {"sampleVOs": ("blSample3VO", True)},
    "blSample3VO": {
        "crystalVO": ("crystal3VO", False),
        "diffractionPlanVO": ("diffractionPlan3VO", False),
    },
    "crystal3VO": {
        "proteinVO": ("protein3VO", False),
        "diffractionPlanVO": ("diffractionPlan3VO", False),
    },
}

_SAMPLE = SERVICES["ToolsForBLSampleWebService"]


def value_object_fields(name: str) -> tuple[Param, ...]:
    """The scalar fields of a value object read from JSON.

    Args:
        name: A key of :data:`JSON_VALUE_OBJECTS`, or ``"blSample3VO"`` /
            ``"diffractionPlan3VO"`` (taken from the BLSample service's types).

    Returns:
        Its fields with their XSD types, in declaration order.
    """
    spec = JSON_VALUE_OBJECTS.get(name)
    if spec is None:
        return tuple(p for p in _SAMPLE.all_elements(name) if p.is_simple)
    return tuple(Param(item.split(":", 1)[0], "xs:" + item.split(":", 1)[1]) for item in spec.split())
