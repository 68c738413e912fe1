"""Configuration: the mixed XML/YAML loader, checking and XML-to-YAML conversion."""

from mxcubecore_lims.config.check import check_directory
from mxcubecore_lims.config.convert import xml_to_yaml
from mxcubecore_lims.config.loader import ConfigLoader, LoadedBeamline, load_beamline
from mxcubecore_lims.config.lookup import LookupPath

__all__ = ["ConfigLoader", "LoadedBeamline", "LookupPath", "check_directory", "load_beamline", "xml_to_yaml"]
