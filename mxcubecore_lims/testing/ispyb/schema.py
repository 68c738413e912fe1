"""The one declarative table of the emulated ISPyB SOAP services.

Everything the emulator puts on the wire comes from here: the WSDLs
(:mod:`.wsdl`), the request parsing and the response writing
(:mod:`.server`). The tables follow ``ispyb_soap.md`` §2 (operations) and §3
(value objects, in JAXB element order: base type first, then extension).

Reference/collection elements (``…VO``/``…VOs``) are left out: ISPyB never
fills them on output and mxcubecore never sends them (reference §3.0).

The value objects ``CrimsWebService.storeShipping`` reads from JSON are in
:mod:`.json_types`: they are never in a WSDL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "SERVICES",
    "XSD_TYPES",
    "ComplexType",
    "Operation",
    "Param",
    "Service",
]

#: XSD simple types used by the services.
XSD_TYPES = ("string", "int", "long", "double", "float", "byte", "boolean", "dateTime")


@dataclass(frozen=True)
class Param:
    """One element of a wrapper or a value object.

    Attributes:
        name: The element name (unqualified on the wire).
        type: ``xs:<simple>`` or ``tns:<complex type>``.
        many: Repeated element (``maxOccurs="unbounded"``).
    """

    name: str
    type: str
    many: bool = False

    @property
    def is_simple(self) -> bool:
        """True for XML Schema built-in types (``xs:...``), false for our complex types."""
        return self.type.startswith("xs:")


@dataclass(frozen=True)
class ComplexType:
    """An XSD complex type: its own elements, and the base it extends."""

    name: str
    elements: tuple[Param, ...]
    base: str | None = "isPyBValueObject"


@dataclass(frozen=True)
class Operation:
    """A document/literal wrapped operation."""

    name: str
    params: tuple[Param, ...]
    result: Param | None


@dataclass(frozen=True)
class Service:
    """One ``@WebService`` of ISPyB."""

    name: str
    namespace: str
    operations: dict[str, Operation]
    types: dict[str, ComplexType] = field(default_factory=dict)

    def all_elements(self, type_name: str) -> list[Param]:
        """Elements of a type in wire order: base elements first."""
        ctype = self.types[type_name]
        inherited = self.all_elements(ctype.base) if ctype.base in self.types else []
        return inherited + list(ctype.elements)


def _fields(spec: str) -> tuple[Param, ...]:
    """Parses ``"name:type name:type*"`` (``*`` = repeated; bare type = xs:)."""
    out = []
    for item in spec.split():
        name, typ = item.split(":", 1)
        many = typ.endswith("*")
        typ = typ.rstrip("*")
        out.append(Param(name, typ if typ.startswith("tns:") else f"xs:{typ}", many))
    return tuple(out)


# --------------------------------------------------------------------------
# value objects (reference §3), element order as in the reference tables

_VO: dict[str, tuple[str | None, str]] = {
    "isPyBValueObject": (None, ""),
    # §3.1
    "session3VO": (
        "isPyBValueObject",
        "beamlineName:string beamlineOperator:string comments:string databackupEurope:float "
        "databackupFrance:float dewarTransport:float endDate:dateTime expSessionPk:long "
        "externalId:int lastUpdate:dateTime nbReimbDewars:int nbShifts:int "
        "operatorSiteNumber:string projectCode:string protectedData:string scheduled:byte "
        "sessionId:int sessionTitle:string startDate:dateTime structureDeterminations:float "
        "timeStamp:dateTime usedFlag:byte visit_number:int",
    ),
    "sessionWS3VO": ("session3VO", "beamLineSetupId:int proposalId:int proposalName:string"),
    # §3.2
    "proposal3VO": (
        "isPyBValueObject",
        "code:string externalId:int number:string proposalId:int title:string type:string",
    ),
    "proposalWS3VO": ("proposal3VO", "personId:int"),
    # §3.3
    "person3VO": (
        "isPyBValueObject",
        "emailAddress:string externalId:int familyName:string faxNumber:string "
        "givenName:string login:string personId:int personUUID:string phoneNumber:string "
        "siteId:string title:string",
    ),
    "personWS3VO": ("person3VO", "laboratoryId:int"),
    # §3.4
    "laboratory3VO": (
        "isPyBValueObject",
        "address:string city:string country:string laboratoryExtPk:int laboratoryId:int "
        "laboratoryUUID:string name:string organization:string url:string",
    ),
    # §3.5
    "sampleInfo": (
        None,
        "blsampleImagePath:string cellA:double cellAlpha:double cellB:double cellBeta:double "
        "cellC:double cellGamma:double code:string containerCapacity:int containerCode:string "
        "containerComments:string containerSampleChangerLocation:string containerType:string "
        "crystalId:int crystalSpaceGroup:string dewarCode:string dewarId:int "
        "diffractionPlan:tns:diffractionPlanWS3VO experimentType:string holderLength:double "
        "minimalResolution:double proteinAcronym:string sampleId:int sampleLocation:string "
        "sampleName:string shippingComments:string shippingId:int shippingName:string "
        "smiles:string",
    ),
    "diffractionPlan3VO": (
        "isPyBValueObject",
        "aimedCompleteness:double aimedIOverSigmaAtHighestRes:double aimedMultiplicity:double "
        "aimedResolution:double anomalousData:boolean anomalousScatterer:string "
        "axisRange:double comments:string complexity:string diffractionPlanId:int "
        "estimateRadiationDamage:boolean experimentKind:string exposureTime:double "
        "forcedSpaceGroup:string kappaStrategyOption:string maxDimAccrossSpindleAxis:double "
        "maximalResolution:double minDimAccrossSpindleAxis:double minOscWidth:double "
        "minimalResolution:double numberOfPositions:int observedResolution:double "
        "oscillationRange:double preferredBeamDiameter:double preferredBeamSizeX:double "
        "preferredBeamSizeY:double radiationSensitivity:double radiationSensitivityBeta:double "
        "radiationSensitivityGamma:double requiredCompleteness:double "
        "requiredMultiplicity:double requiredResolution:double screeningResolution:double "
        "strategyOption:string",
    ),
    "diffractionPlanWS3VO": ("diffractionPlan3VO", ""),
    # §3.6
    "dataCollectionGroup3VO": (
        "isPyBValueObject",
        "actualContainerBarcode:string actualContainerSlotInSC:int actualSampleBarcode:string "
        "actualSampleSlotInContainer:int comments:string crystalClass:string "
        "dataCollectionGroupId:int detectorMode:string endTime:dateTime experimentType:string "
        "startTime:dateTime xtalSnapshotFullPath:string",
    ),
    "dataCollectionGroupWS3VO": (
        "dataCollectionGroup3VO",
        "blSampleId:int sessionId:int workflowId:int",
    ),
    # §3.7
    "dataCollection3VO": (
        "isPyBValueObject",
        "actualCenteringPosition:string averageTemperature:double axisEnd:double "
        "axisRange:double axisStart:double beamShape:string beamSizeAtSampleX:double "
        "beamSizeAtSampleY:double bestWilsonPlotPath:string centeringMethod:string "
        "comments:string dataCollectionId:int dataCollectionNumber:int detector2theta:double "
        "detectorDistance:double endTime:dateTime exposureTime:double fileTemplate:string "
        "flux:double flux_end:double imageDirectory:string imagePrefix:string "
        "imageQualityIndicatorsCSVPath:string imageQualityIndicatorsPlotPath:string "
        "imageSuffix:string kappaStart:double magnification:int numberOfImages:int "
        "numberOfPasses:int omegaStart:double overlap:double phiStart:double "
        "printableForReport:byte resolution:double resolutionAtCorner:double "
        "rotationAxis:string runStatus:string slitGapHorizontal:double slitGapVertical:double "
        "startImageNumber:int startTime:dateTime synchrotronMode:string "
        "totalAbsorbedDose:double transmission:double undulatorGap1:double "
        "undulatorGap2:double undulatorGap3:double voltage:float wavelength:double "
        "xbeam:double xbeamPix:double xtalSnapshotFullPath1:string "
        "xtalSnapshotFullPath2:string xtalSnapshotFullPath3:string "
        "xtalSnapshotFullPath4:string ybeam:double ybeamPix:double",
    ),
    "dataCollectionWS3VO": (
        "dataCollection3VO",
        "blSubSampleId:int dataCollectionGroupId:int detectorId:int strategySubWedgeOrigId:int",
    ),
    # §3.8
    "image3VO": (
        "isPyBValueObject",
        "comments:string cumulativeIntensity:float fileLocation:string fileName:string "
        "imageId:int imageNumber:int jpegFileFullPath:string jpegThumbnailFileFullPath:string "
        "machineMessage:string measuredIntensity:float synchrotronCurrent:float "
        "temperature:float",
    ),
    "imageWS3VO": ("image3VO", "dataCollectionId:int"),
    # §3.9
    "robotAction3VO": (
        "isPyBValueObject",
        "actionType:string containerLocation:int dewarLocation:int endTime:dateTime "
        "message:string robotActionId:int sampleBarcode:string startTime:dateTime "
        "status:string xtalSnapshotAfter:string xtalSnapshotBefore:string",
    ),
    "robotActionWS3VO": ("robotAction3VO", "blSampleId:int sessionId:int"),
    # §3.10 (CS: name and position unverified, reference §3.0)
    "beamLineSetup3VO": (
        "isPyBValueObject",
        "beamDivergenceHorizontal:double beamDivergenceVertical:double beamLineSetupId:int "
        "CS:float focalSpotSizeAtSample:double focusingOptic:string "
        "goniostatMaxOscillationSpeed:double goniostatMinOscillationWidth:double "
        "maxExpTimePerDataCollection:double minExposureTimePerImage:double "
        "minTransmission:double monochromatorType:string polarisation:double "
        "setupDate:dateTime synchrotronMode:string synchrotronName:string "
        "undulatorType1:string undulatorType2:string undulatorType3:string",
    ),
    "detector3VO": (
        "isPyBValueObject",
        "detectorDistanceMax:double detectorDistanceMin:double detectorId:int "
        "detectorManufacturer:string detectorMode:string detectorModel:string "
        "detectorPixelSizeHorizontal:double detectorPixelSizeVertical:double "
        "detectorSerialNumber:string detectorType:string overload:double "
        "sensorThickness:double trustedPixelValueRangeLower:double "
        "trustedPixelValueRangeUpper:double xGeoCorr:string yGeoCorr:string",
    ),
    # §3.11
    "energyScan3VO": (
        "isPyBValueObject",
        "beamSizeHorizontal:float beamSizeVertical:float choochFileFullPath:string "
        "comments:string crystalClass:string edgeEnergy:string element:string "
        "endEnergy:double endTime:dateTime energyScanId:int exposureTime:double "
        "filename:string fluorescenceDetector:string flux:double flux_end:double "
        "inflectionEnergy:double inflectionFDoublePrime:double inflectionFPrime:double "
        "jpegChoochFileFullPath:string peakEnergy:double peakFDoublePrime:double "
        "peakFPrime:double remoteEnergy:double remoteFDoublePrime:double remoteFPrime:double "
        "scanFileFullPath:string startEnergy:double startTime:dateTime "
        "synchrotronCurrent:double temperature:double transmissionFactor:double "
        "workingDirectory:string xrayDose:double",
    ),
    "energyScanWS3VO": ("energyScan3VO", "blSampleId:int sessionId:int"),
    "xfeFluorescenceSpectrum3VO": (
        "isPyBValueObject",
        "annotatedPymcaXfeSpectrum:string beamSizeHorizontal:float beamSizeVertical:float "
        "beamTransmission:float comments:string crystalClass:string endTime:dateTime "
        "energy:float exposureTime:float filename:string fittedDataFileFullPath:string "
        "flux:double flux_end:double jpegScanFileFullPath:string scanFileFullPath:string "
        "startTime:dateTime workingDirectory:string xfeFluorescenceSpectrumId:int",
    ),
    "xfeFluorescenceSpectrumWS3VO": (
        "xfeFluorescenceSpectrum3VO",
        "blSampleId:int sessionId:int",
    ),
    # §3.12
    "blSample3VO": (
        "isPyBValueObject",
        "blSampleId:int blSampleStatus:string code:string comments:string "
        "completionStage:string holderLength:double isInSampleChanger:byte "
        "lastImageURL:string lastKnownCenteringPosition:string location:string "
        "loopLength:double loopType:string name:string publicationComments:string "
        "publicationStage:string smiles:string structureStage:string wireWidth:double",
    ),
    "blSampleWS3VO": ("blSample3VO", "containerId:int crystalId:int diffractionPlanId:int"),
}


def _type(name: str) -> ComplexType:
    base, spec = _VO[name]
    return ComplexType(name, _fields(spec), base)


def _types(*names: str) -> dict[str, ComplexType]:
    """The named types plus everything they extend or contain."""
    out: dict[str, ComplexType] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        ctype = out[name] = _type(name)
        if ctype.base:
            todo.append(ctype.base)
        todo.extend(p.type[4:] for p in ctype.elements if not p.is_simple)
    # Keep the declaration order of the table above (stable WSDLs).
    return {name: out[name] for name in _VO if name in out}


def _op(name: str, params: str, result: str | None) -> Operation:
    res = _fields(result)[0] if result else None
    return Operation(name, _fields(params), res)


def _service(name: str, namespace: str, ops: list[Operation], *types: str) -> Service:
    return Service(name, namespace, {op.name: op for op in ops}, _types(*types))


_ECHO = _op("echo", "", "echo:string")

#: The four services, by name. Operations follow reference §2; ``CrimsWebService``
#: follows ISPyB's ``ispyb.ws.soap.crims.CrimsWebService`` (its operations without
#: ``@WebResult`` answer in JAX-WS's default element ``return``).
SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        _service(
            "ToolsForShippingWebService",
            "http://ispyb.ejb3.webservices.shipping",
            [
                _ECHO,
                _op("findProposal", "arg0:string arg1:string", "proposal:tns:proposalWS3VO"),
                _op(
                    "findProposalByLoginAndBeamline",
                    "arg0:string arg1:string",
                    "proposal:tns:proposalWS3VO",
                ),
                _op("findPersonByLogin", "arg0:string", "person:tns:personWS3VO"),
                _op("findPersonByProposal", "arg0:string arg1:string", "person:tns:personWS3VO"),
                _op(
                    "findLaboratoryByProposal",
                    "arg0:string arg1:string",
                    "laboratory:tns:laboratory3VO",
                ),
                _op(
                    "findLaboratoryByCodeAndNumber",
                    "arg0:string arg1:int",
                    "laboratory:tns:laboratory3VO",
                ),
                _op(
                    "findProposalsByLoginName",
                    "loginName:string",
                    "findProposalsByLoginName:string",
                ),
                _op(
                    "findPersonBySessionIdLocalContact",
                    "sessionId:int",
                    "person:tns:personWS3VO",
                ),
            ],
            "proposalWS3VO",
            "personWS3VO",
            "laboratory3VO",
        ),
        _service(
            "ToolsForCollectionWebService",
            "http://ispyb.ejb3.webservices.collection",
            [
                _ECHO,
                _op(
                    "findSessionsByProposalAndBeamLine",
                    "code:string number:string beamLineName:string",
                    "Sessions:tns:sessionWS3VO*",
                ),
                _op("findSession", "sessionId:int", "session:tns:sessionWS3VO"),
                _op("storeOrUpdateSession", "session:tns:sessionWS3VO", "sessionId:int"),
                _op(
                    "storeOrUpdateDataCollectionGroup",
                    "dataCollectionGroup:tns:dataCollectionGroupWS3VO",
                    "dataCollectionGroupId:int",
                ),
                _op(
                    "storeOrUpdateDataCollection",
                    "dataCollection:tns:dataCollectionWS3VO",
                    "dataCollectionId:int",
                ),
                _op("storeOrUpdateImage", "image:tns:imageWS3VO", "imageId:int"),
                _op(
                    "storeOrUpdateBeamLineSetup",
                    "beamLineSetup:tns:beamLineSetup3VO",
                    "beamLineSetupId:int",
                ),
                _op(
                    "findDetectorByParam",
                    "detectorType:string detectorManufacturer:string detectorModel:string detectorMode:string",
                    "Detector:tns:detector3VO",
                ),
                _op("storeRobotAction", "robotAction:tns:robotActionWS3VO", "robotActionId:int"),
                _op(
                    "storeOrUpdateEnergyScan",
                    "energyScan:tns:energyScanWS3VO",
                    "energyScanId:int",
                ),
                _op(
                    "storeOrUpdateXFEFluorescenceSpectrum",
                    "xfeFluorescenceSpectrum:tns:xfeFluorescenceSpectrumWS3VO",
                    "xfeFluorescenceSpectrumId:int",
                ),
                _op(
                    "findDataCollection",
                    "dataCollectionId:int",
                    "dataCollection:tns:dataCollectionWS3VO",
                ),
                _op(
                    "findDataCollectionFromImageDirectoryAndImagePrefixAndNumber",
                    "imageDirectory:string imagePrefix:string dataCollectionNumber:int",
                    "dataCollection:tns:dataCollectionWS3VO",
                ),
                # storeBLSampleHasEnergyScan: removed from ISPyB in 2015 (reference §2.2),
                # so deliberately absent.
            ],
            "sessionWS3VO",
            "dataCollectionGroupWS3VO",
            "dataCollectionWS3VO",
            "imageWS3VO",
            "robotActionWS3VO",
            "beamLineSetup3VO",
            "detector3VO",
            "energyScanWS3VO",
            "xfeFluorescenceSpectrumWS3VO",
        ),
        _service(
            "ToolsForBLSampleWebService",
            "http://ispyb.ejb3.webservices.sample",
            [
                _ECHO,
                _op(
                    "findSampleInfoLightForProposal",
                    "proposalId:int beamlineLocation:string",
                    "SampleInfos:tns:sampleInfo*",
                ),
                _op("storeOrUpdateBLSample", "blSample:tns:blSampleWS3VO", "blSampleId:int"),
                _op("findBLSample", "blSampleId:int", "blSample:tns:blSampleWS3VO"),
                _op(
                    "findProteinAcronymsForProposal",
                    "proposalCode:string proposalNumber:string",
                    "listProteinAcronyms:string*",
                ),
            ],
            "sampleInfo",
            "blSampleWS3VO",
        ),
        _service(
            "CrimsWebService",
            "http://ispyb.ejb3.webservices.sample",
            [
                _ECHO,
                _op(
                    "storeShipping",
                    "proposalCode:string proposalNumber:string shipping:string",
                    "return:string",
                ),
                _op("getDataCollectionFromShippingId", "shippingId:string", "return:string"),
                _op("getAllDataCollectionFromShippingId", "shippingId:string", "return:string"),
            ],
        ),
    )
}
