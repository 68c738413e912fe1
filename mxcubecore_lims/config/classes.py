"""Finds the class a configuration file names.

mxcubecore reads ``class`` differently per format: XML ``a.b.C`` means module
``a.b.C``, attribute ``C``; YAML ``a.b.C`` means module ``a.b``, attribute
``C``. Both are accepted in both formats (the file's own convention first),
so a file moved from one format to the other keeps working.

A bare name (``Session``) is found the way mxcubecore finds it, through
``sys.path``, so a site's own ``Session.py`` in a hardware-object directory
wins as it does under mxcubecore. When the module found is one of
mxcubecore's own files, it is imported by its full module path instead:
mxcubecore's ``sys.path`` entries would import it a second time under the
bare name (two ``Session`` classes). Failing that, mxcubecore's
hardware-object packages are searched by full path.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mxcubecore_lims.config.spec import Format
from mxcubecore_lims.errors import ConfigClassError

if TYPE_CHECKING:
    from pydantic import BaseModel

#: Packages searched, in order, for a bare class name.
BARE_NAME_PACKAGES = (
    "mxcubecore.HardwareObjects",
    "mxcubecore.HardwareObjects.mockup",
    "mxcubecore.HardwareObjects.abstract",
    "mxcubecore.HardwareObjects.sample_changer",
    "mxcubecore_lims.HardwareObjects",
)


def candidate_imports(class_path: str, file_format: Format) -> list[tuple[str, str]]:
    """Lists ``(module, attribute)`` pairs to try for a class path, best first."""
    if "." not in class_path:
        on_path = _module_on_sys_path(class_path)
        packaged = [(f"{package}.{class_path}", class_path) for package in BARE_NAME_PACKAGES]
        return ([(on_path, class_path)] if on_path else []) + packaged
    module, _, attribute = class_path.rpartition(".")
    xml_form = (class_path, attribute)
    yaml_form = (module, attribute)
    return [xml_form, yaml_form] if file_format == "xml" else [yaml_form, xml_form]


def _module_on_sys_path(name: str) -> str | None:
    """The module a bare name imports through ``sys.path``, by its canonical name.

    Returns:
        ``mxcubecore.<...>.Name`` when the file found belongs to mxcubecore,
        the bare name for any other file, None when nothing is found.
    """
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if found is None or not found.origin:
        return None
    origin = Path(found.origin).resolve()
    core = importlib.util.find_spec("mxcubecore")
    if core is not None and core.submodule_search_locations:
        core_dir = Path(next(iter(core.submodule_search_locations))).resolve()
        if origin.is_relative_to(core_dir):
            relative = origin.relative_to(core_dir).with_suffix("")
            return ".".join(("mxcubecore", *relative.parts))
    return name


@cache
def _import_candidate(module_name: str, attribute: str) -> type | None:
    """Imports one candidate; None when the module or attribute does not exist.

    Raises:
        Exception: Whatever the module itself raised while importing.
    """
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only "this module does not exist" means try the next form; a missing
        # dependency inside an existing module is a real error.
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            return None
        raise
    found = getattr(module, attribute, None)
    return found if isinstance(found, type) else None


def resolve_class(class_path: str, file_format: Format, file: Path, line: int) -> type:
    """Imports the class a configuration file names.

    Args:
        class_path: The ``class`` value as written.
        file_format: The file's format, which decides which reading comes first.
        file: The configuration file, for error messages.
        line: The line of the ``class`` declaration.

    Returns:
        The class, which is a subclass of mxcubecore's ``HardwareObjectNode``
        or ``ConfiguredObject``.

    Raises:
        ConfigClassError: No such class, its module failed to import, or it is
            not a hardware object.
    """
    from mxcubecore.BaseHardwareObjects import ConfiguredObject, HardwareObjectNode

    for module_name, attribute in candidate_imports(class_path, file_format):
        try:
            found = _import_candidate(module_name, attribute)
        except Exception as error:
            raise ConfigClassError(
                f"class '{class_path}': importing module '{module_name}' failed: {error.__class__.__name__}: {error}",
                file,
                line,
            ) from error
        if found is None:
            continue
        if not issubclass(found, (ConfiguredObject, HardwareObjectNode)):
            raise ConfigClassError(f"class '{class_path}' is not an mxcubecore hardware object", file, line)
        return found
    tried = ", ".join(f"{module}:{attribute}" for module, attribute in candidate_imports(class_path, file_format))
    raise ConfigClassError(f"unknown class '{class_path}' (tried {tried})", file, line)


def config_model(cls: type) -> type[BaseModel]:
    """The ``HOConfig`` model of a hardware-object class.

    mxcubecore's ``ConfiguredObject`` declares it, and every class
    :func:`resolve_class` returns inherits it; mxcubecore is untyped, so the
    attribute is read through ``Any``.

    Args:
        cls: A hardware-object class.

    Returns:
        Its pydantic configuration model.
    """
    model: type[BaseModel] = cast(Any, cls).HOConfig
    return model
