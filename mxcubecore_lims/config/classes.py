"""Finds the class a configuration file names.

mxcubecore reads ``class`` differently per format: XML ``a.b.C`` means module
``a.b.C``, attribute ``C``; YAML ``a.b.C`` means module ``a.b``, attribute
``C``. Both are accepted in both formats (the file's own convention first),
so a file moved from one format to the other keeps working.

A bare name (``Session``) is looked up in mxcubecore's hardware-object
packages by full module path. mxcubecore itself finds bare names through
``sys.path`` entries it adds, which imports the module a second time under
another name (two ``Session`` classes); the full path avoids that.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from mxcubecore_lims.config.spec import Format
from mxcubecore_lims.errors import ConfigClassError

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
        return [(f"{package}.{class_path}", class_path) for package in BARE_NAME_PACKAGES] + [
            (class_path, class_path)
        ]
    module, _, attribute = class_path.rpartition(".")
    xml_form = (class_path, attribute)
    yaml_form = (module, attribute)
    return [xml_form, yaml_form] if file_format == "xml" else [yaml_form, xml_form]


@lru_cache(maxsize=None)
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
                f"class '{class_path}': importing module '{module_name}' failed: "
                f"{error.__class__.__name__}: {error}",
                file,
                line,
            ) from error
        if found is None:
            continue
        if not issubclass(found, (ConfiguredObject, HardwareObjectNode)):
            raise ConfigClassError(
                f"class '{class_path}' is not an mxcubecore hardware object", file, line
            )
        return found
    tried = ", ".join(f"{module}:{attribute}" for module, attribute in candidate_imports(class_path, file_format))
    raise ConfigClassError(f"unknown class '{class_path}' (tried {tried})", file, line)
