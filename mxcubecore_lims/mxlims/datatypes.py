"""MXLIMS value types and enumerations (the model's ``datatypes``).

Space group names are the model's enumeration, kept as data in
``space_groups.txt`` (one space group per line, with the spellings the model
accepts, such as ``P212121`` and ``P 21 21 21``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from mxcubecore_lims.mxlims._base import AwareDatetime, HttpUrl, MxlimsModel, PositiveFloat

__all__ = [
    "Circle",
    "ImageRegion",
    "JobStatus",
    "Person",
    "PlateRegion",
    "PlateType",
    "Point",
    "PointCloud",
    "ReflectionStatistics",
    "SampleComponent",
    "Scan",
    "SpaceGroupName",
    "Tensor",
    "TrackingDevice",
    "UnitCell",
    "space_group_names",
]

JobStatus = Literal["Template", "Ready", "Running", "Completed", "Failed", "Aborted"]
SampleComponentRole = Literal["target", "ligand", "cofactor", "solvent", "buffer", "cryoprotectant", "other"]
TrackingDeviceType = Literal["LightBug", "AirTag", "other"]


@cache
def space_group_names() -> tuple[str, ...]:
    """Every space group name the model accepts, in the model's order."""
    text = resources.files("mxcubecore_lims.mxlims").joinpath("space_groups.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(name.strip() for line in lines for name in line.split("|"))


def _known_space_group(value: str) -> str:
    if value not in _space_group_set():
        raise ValueError("not a space group name of the model (e.g. 'P212121' or 'P 21 21 21'; case matters)")
    return value


@cache
def _space_group_set() -> frozenset[str]:
    return frozenset(space_group_names())


SpaceGroupName = Annotated[
    str,
    AfterValidator(_known_space_group),
    WithJsonSchema({"type": "string", "enum": list(space_group_names())}),
]


class UnitCell(MxlimsModel):
    """Unit cell edges (Å) and angles (degrees)."""

    a: PositiveFloat
    b: PositiveFloat
    c: PositiveFloat
    alpha: PositiveFloat
    beta: PositiveFloat
    gamma: PositiveFloat


class Person(MxlimsModel):
    """A contact person."""

    name: str
    email_address: str | None = None
    phone_number: str | None = None


class TrackingDevice(MxlimsModel):
    """A tracker travelling with a shipment, dewar or plate."""

    identifier: str
    device_type: TrackingDeviceType
    human_tracking_url: HttpUrl | None = None
    api_tracking_url: HttpUrl | None = None


class PlateType(MxlimsModel):
    """A plate model: its grid of wells and drops."""

    name: str
    number_rows: Annotated[int, Field(gt=0)]
    number_columns: Annotated[int, Field(gt=0)]
    number_sub_positions: Annotated[int, Field(gt=0)]
    drop_mapping: str


class SampleComponent(MxlimsModel):
    """One component of a sample: target, ligand, buffer..."""

    name: str | None = None
    acronym: str | None = None
    role: SampleComponentRole | None = None
    smiles: str | None = None
    selfies: str | None = None
    sequence: str | None = None
    identifiers: dict[str, str] | None = None
    urls: dict[str, HttpUrl] | None = None


class Scan(MxlimsModel):
    """One scan of a sweep: a contiguous run of images."""

    scan_position_start: float
    first_image_number: int
    number_images: Annotated[int, Field(gt=0)]
    ordinal: int


class Point(MxlimsModel):
    """A point on an image or a plate."""

    region_type: Literal["point"]
    x: float
    y: float


class Circle(MxlimsModel):
    """A circle: its centre and radius."""

    region_type: Literal["circle"]
    center: Point
    radius: PositiveFloat


class Line(MxlimsModel):
    """A line between two points."""

    region_type: Literal["line"]
    points: Annotated[list[Point], Field(min_length=2, max_length=2)]


class Rectangle(MxlimsModel):
    """A rectangle by two opposite corners."""

    region_type: Literal["rectangle"]
    points: Annotated[list[Point], Field(min_length=2, max_length=2)]


class Polygon(MxlimsModel):
    """A polygon by its corners."""

    region_type: Literal["polygon"]
    points: Annotated[list[Point], Field(min_length=3)]


_Region = Annotated[Point | Circle | Line | Rectangle | Polygon, Field(discriminator="region_type")]


class DropImage(MxlimsModel):
    """An image of a drop: inline data or a URL (exactly one)."""

    mime_type: Literal["image/png", "image/jpeg"]
    light_type: Literal["Visible", "UV", "other"] | None = None
    timestamp: AwareDatetime | None = None
    data: str | None = None
    url: HttpUrl | None = None

    @model_validator(mode="after")
    def _data_or_url(self) -> Self:
        if (self.data is None) == (self.url is None):
            raise ValueError("a drop image has data or a url, exactly one")
        return self


class ImageRegion(MxlimsModel):
    """A region given on a drop image."""

    region: _Region
    image: DropImage | None = None
    units: Literal["mm", "micron", "pixel"] | None = None


class PlateRegion(MxlimsModel):
    """A region given in plate coordinates."""

    region: _Region
    units: Literal["mm", "micron"] | None = None


class ScannedPoint(MxlimsModel):
    """One point of a scanned volume, with what was measured there."""

    coordinates: Annotated[list[float], Field(min_length=3, max_length=3)]
    intensity: float | None = None
    resolution: float | None = None
    spot_count: Annotated[int, Field(ge=0)] | None = None


class PointCloud(MxlimsModel):
    """A set of scanned points (a searched or found volume)."""

    points: list[ScannedPoint]


class Tensor(MxlimsModel):
    """A symmetric tensor by its eigenvalues and eigenvectors."""

    eigenvalues: Annotated[list[float], Field(min_length=3, max_length=3)]
    eigenvectors: Annotated[
        list[Annotated[list[float], Field(min_length=3, max_length=3)]], Field(min_length=3, max_length=3)
    ]


_NonNegative = Annotated[float, Field(ge=0)]
_Percent = Annotated[float, Field(ge=0, le=100)]


class ReflectionStatistics(MxlimsModel):
    """Merging statistics of a resolution shell (or of all data), named as in the model.

    The model's ``CC_one_half`` and ``CC_ano`` are left out: at 0.6.13 their
    bounds (minimum and maximum both -1) make any real value invalid.
    """

    resolution_limits: Annotated[list[float], Field(min_length=2, max_length=2)]
    """Low and high resolution limits, Å."""
    number_observations: Annotated[int, Field(gt=0)] | None = None
    number_observations_unique: Annotated[int, Field(gt=0)] | None = None
    number_reflections_rejected: Annotated[int, Field(ge=0)] | None = None
    chi_squared: _NonNegative | None = None
    r_merge: _NonNegative | None = Field(default=None, alias="R_merge")
    r_meas: _NonNegative | None = Field(default=None, alias="R_meas")
    r_pim: _NonNegative | None = Field(default=None, alias="R_pim")
    i_over_sig_i: float | None = Field(default=None, alias="I_over_SigI")
    sig_ano: float | None = Field(default=None, alias="SigAno")
    completeness: _Percent | None = Field(default=None, alias="Completeness")
    completeness_spherical: _Percent | None = Field(default=None, alias="CompletenessSpherical")
    completeness_ellipsoidal: _Percent | None = Field(default=None, alias="CompletenessEllipsoidal")
    completeness_ano: _Percent | None = Field(default=None, alias="CompletenessAno")
    completeness_ano_spherical: _Percent | None = Field(default=None, alias="CompletenessAnoSpherical")
    completeness_ano_ellipsoidal: _Percent | None = Field(default=None, alias="CompletenessAnoEllipsoidal")
    redundancy: _NonNegative | None = Field(default=None, alias="Redundancy")
    redundancy_ano: _NonNegative | None = Field(default=None, alias="RedundancyAno")
