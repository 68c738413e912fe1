"""Where our loader meets mxcubecore's repository and base classes.

Everything here reaches into mxcubecore's internals (its repository client,
its legacy XML property set, its configuration validator), each at one
place, so that a change in mxcubecore shows up in this module alone. Imports
of mxcubecore are local: reading and checking a configuration never imports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from mxcubecore_lims.config.lookup import LookupPath
from mxcubecore_lims.config.spec import ObjectSpec, RawList, RawScalar

__all__ = ["install_registry", "lax_core_validation", "mirror_xml_properties", "uninstall_registry"]


@contextlib.contextmanager
def lax_core_validation() -> Iterator[None]:
    """Lets our loader, not mxcubecore's model validator, judge undeclared properties."""
    from mxcubecore.BaseHardwareObjects import ConfiguredObject

    saved = ConfiguredObject.HOConfig.validation_mode
    ConfiguredObject.HOConfig.validation_mode = "lax"
    try:
        yield
    finally:
        ConfiguredObject.HOConfig.validation_mode = saved


def mirror_xml_properties(obj: Any, spec: ObjectSpec, values: dict[str, Any]) -> None:
    """Fills the legacy XML property set and nodes, as mxcubecore's XML loader does.

    Older hardware objects read XML configuration through ``self["name"]``,
    ``get_objects`` or the property set rather than through ``config``.
    """
    from mxcubecore.BaseHardwareObjects import HardwareObjectNode

    if not isinstance(obj, HardwareObjectNode):
        return
    for name, raw in spec.properties.items():
        value = values.get(name)
        if isinstance(raw, RawScalar) or (isinstance(raw, RawList) and raw.repeated_element):
            obj._property_set[name] = value
            obj._property_set.set_property_path(name, f"{obj._path}/{name}")
        else:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    obj._add_object(name, _xml_node(name, item))


def _xml_node(name: str, value: dict[str, Any]) -> Any:
    """A legacy property node from a shaped (typed, resolved) complex value."""
    from mxcubecore.BaseHardwareObjects import HardwareObjectNode

    node = HardwareObjectNode(name)
    for key, item in value.items():
        if isinstance(item, list) and all(isinstance(i, dict) for i in item):
            for element in item:
                node._add_object(key, _xml_node(key, element))
        else:
            node._property_set[key] = item
    return node


def install_registry(lookup: LookupPath, load_by_name: Any) -> Any:
    """Creates mxcubecore's repository client over our lookup path.

    Its loading of objects not yet loaded is routed to our loader.
    """
    from mxcubecore import HardwareRepository as HWR

    if HWR._instance is not None or HWR.beamline is not None:
        raise RuntimeError(
            "mxcubecore's hardware repository is already initialised; "
            "close the loaded beamline (or call uninit_hardware_repository) first"
        )
    client_class = vars(HWR)["__HardwareRepositoryClient"]
    client = client_class([str(d) for d in lookup.directories])
    client.connect()
    client._load_hardware_object = load_by_name
    HWR._instance = client
    return client


def uninstall_registry() -> None:
    """Removes mxcubecore's repository client (and the beamline registered in it)."""
    from mxcubecore import HardwareRepository as HWR

    HWR.uninit_hardware_repository()
