"""Beamline setup: ``bl_config``, given to ``store_data_collection``.

``AbstractCollect`` and ``AbstractMultiCollect`` each define a
``BeamlineConfig`` **namedtuple** (18 and 20 fields, in different orders)
and pass it as the second argument of ``store_data_collection``;
``store_beamline_setup`` documents a dict with the same keys.
:meth:`BeamlineSetup.from_legacy` takes either; :meth:`~BeamlineSetup.to_legacy`
returns the dict (``namedtuple._asdict()``).

Every field may be None: both collect classes start from a namedtuple of
Nones and fill it from configuration properties.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, PrivateAttr

from mxcubecore_lims.model._legacy import (
    LegacyModel,
    NonNegative,
    legacy,
)

__all__ = ["BeamlineSetup"]


class BeamlineSetup(LegacyModel):
    """The beamline configuration recorded with each data collection.

    Example:
        >>> import collections
        >>> Config = collections.namedtuple("Config", "synchrotron_name polarisation")
        >>> BeamlineSetup.from_legacy(Config("ESRF", 0.99)).polarisation
        0.99
    """

    synchrotron_name: str | None = legacy("synchrotron_name")
    """Name of the synchrotron, e.g. ``"ESRF"``."""
    directory_prefix: str | None = legacy("directory_prefix")
    """Data directory prefix."""
    default_exposure_time: NonNegative | None = legacy("default_exposure_time")
    """Default exposure time per image [s]."""
    minimum_exposure_time: NonNegative | None = legacy("minimum_exposure_time")
    """Shortest exposure time per image [s]."""
    detector_fileext: str | None = legacy("detector_fileext")
    """Image file extension, e.g. ``"cbf"``."""
    detector_type: str | None = legacy("detector_type")
    """Detector type, e.g. ``"hpc"``."""
    detector_manufacturer: str | None = legacy("detector_manufacturer")
    """Detector manufacturer, e.g. ``"Dectris"``."""
    detector_model: str | None = legacy("detector_model")
    """Detector model, e.g. ``"Pilatus3_6M"``."""
    detector_binning_mode: int | str | None = legacy("detector_binning_mode")
    """Detector binning mode (an int from ``AbstractDetector.get_binning_mode``)."""
    detector_px: NonNegative | None = legacy("detector_px")
    """Horizontal pixel size [mm] (the detector's ``px`` property)."""
    detector_py: NonNegative | None = legacy("detector_py")
    """Vertical pixel size [mm] (the detector's ``py`` property)."""
    undulators: list[Any] | None = legacy("undulators")
    """Undulator descriptions: objects with a ``type`` attribute, or names."""
    focusing_optic: str | None = legacy("focusing_optic")
    """Focusing optic."""
    monochromator_type: str | None = legacy("monochromator_type")
    """Monochromator type."""
    beam_divergence_vertical: NonNegative | None = legacy("beam_divergence_vertical")
    """Vertical beam divergence [µrad]."""
    beam_divergence_horizontal: NonNegative | None = legacy("beam_divergence_horizontal")
    """Horizontal beam divergence [µrad]."""
    polarisation: Annotated[float, Field(ge=0, le=1)] | None = legacy("polarisation")
    """Degree of linear polarisation, 0 to 1."""
    maximum_phi_speed: NonNegative | None = legacy("maximum_phi_speed")
    """Fastest goniometer rotation [deg/s] (AbstractMultiCollect only)."""
    minimum_phi_oscillation: NonNegative | None = legacy("minimum_phi_oscillation")
    """Smallest oscillation width [deg] (AbstractMultiCollect only)."""
    input_files_server: Any | None = legacy("input_files_server")
    """Server that writes processing input files, if any."""

    _namedtuple_type: type[tuple[Any, ...]] | None = PrivateAttr(default=None)

    @classmethod
    def from_legacy(cls, data: Any) -> BeamlineSetup:
        """Reads ``bl_config``, a namedtuple or a dict.

        Args:
            data: The namedtuple (either ``BeamlineConfig``) or dict.

        Returns:
            The model; :meth:`to_namedtuple` rebuilds a namedtuple of the
            same class.

        Raises:
            LimsDataError: A value does not fit.
        """
        model = super().from_legacy(data)
        if isinstance(data, tuple) and hasattr(data, "_fields"):
            model._namedtuple_type = type(data)
        return model

    def to_namedtuple(self) -> tuple[Any, ...]:
        """Writes the setup back as a namedtuple.

        mxcubecore's consumers read ``bl_config`` by attribute
        (``bl_config.detector_model``), so they need this form rather than
        :meth:`to_legacy`'s dict.

        Returns:
            An instance of the namedtuple class that was read, when its
            fields match the keys; else of a ``BeamlineConfig`` namedtuple
            made from the keys.
        """
        data = self.to_legacy()
        kind = self._namedtuple_type
        if kind is None or set(getattr(kind, "_fields", ())) != set(data):
            kind = _beamline_config_class(list(data))
        return kind(**data)

    @property
    def undulator_types(self) -> list[str]:
        """The undulator types, as ISPyB's ``undulatorType1..n`` want them."""
        undulators = self.undulators or []
        return [str(getattr(undulator, "type", undulator)) for undulator in undulators]


def _beamline_config_class(names: list[str]) -> type[tuple[Any, ...]]:
    """A ``BeamlineConfig`` namedtuple class with the fields ``names``.

    The fields are only known at run time, which mypy's special treatment of
    ``namedtuple()`` (literal field names) cannot check, so it is called as the
    plain function typeshed declares.

    Args:
        names: The field names, in order.

    Returns:
        The namedtuple class.
    """
    factory: Callable[[str, list[str]], type[tuple[Any, ...]]] = collections.namedtuple
    return factory("BeamlineConfig", names)
