"""What mxcubecore's own loader would drop or read differently, file by file.

Our loader accepts more than mxcubecore's (the one mxcubeweb-server and
every stock tool use): YAML references without an extension, XML references
to YAML files, ``${env:...}`` and ``${file:...}`` values. A beamline that is
also loaded by stock code must not rely on them, because stock mxcubecore
2.149 skips or misreads them without a word (``HardwareRepository.load_from_yaml``
loads an ``objects:`` entry only when it ends in ``.yaml``, ``.yml`` or
``.xml``; ``HardwareRepository._load_hardware_object`` looks for ``NAME.xml``
only; neither expands references). :func:`stock_loader_warnings` names each
place, with file and line, and what to write instead.
"""

from __future__ import annotations

from pathlib import Path

from mxcubecore_lims.config.lookup import YAML_SUFFIXES, LookupPath
from mxcubecore_lims.config.spec import ObjectSpec, RawMap, RawScalar, RawValue
from mxcubecore_lims.errors import LimsConfigError

__all__ = ["STOCK_YAML_OBJECT_SUFFIXES", "stock_loader_warnings"]

#: Suffixes of an ``objects:`` entry that stock ``load_from_yaml`` loads.
STOCK_YAML_OBJECT_SUFFIXES = (".yaml", ".yml", ".xml")

#: How the warnings end: who is affected, so a reader can decide to ignore them.
_AFFECTED = "mxcubecore's own loader (mxcubeweb-server, stock tools)"


def stock_loader_warnings(
    specs: list[ObjectSpec], root: Path, extra_lookup: list[str | Path] | None = None
) -> list[str]:
    """``file:line: ...`` warnings for what mxcubecore's own loader reads otherwise.

    Args:
        specs: The files of the configuration, as read.
        root: The configuration directory (first on the lookup path).
        extra_lookup: Further lookup directories, to resolve references.

    Returns:
        The warnings, in file and line order.
    """
    lookup = LookupPath([root, *(extra_lookup or [])])
    warnings: list[tuple[str, int, str]] = []
    with lookup.cached():
        for spec in specs:
            warnings.extend(_reference_warnings(spec, lookup))
            warnings.extend(_expansion_warnings(spec))
    return [f"{path}:{line}: {text}" for path, line, text in sorted(warnings)]


def _reference_warnings(spec: ObjectSpec, lookup: LookupPath) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for reference in spec.references:
        target = reference.target.strip()
        suffix = Path(target).suffix.lower()
        if spec.format == "yaml":
            if suffix not in STOCK_YAML_OBJECT_SUFFIXES:
                written = _resolved_name(lookup, target, spec.path, reference.line)
                found.append(
                    (
                        str(spec.path),
                        reference.line,
                        f"objects entry '{reference.role}: {target}' has no .yaml, .yml or .xml "
                        f"extension: {_AFFECTED} skips it without a word; write '{written}'",
                    )
                )
            continue
        if suffix:
            found.append(
                (
                    str(spec.path),
                    reference.line,
                    f"reference '{target}' (role {reference.role}) has an extension: {_AFFECTED} "
                    f"looks for '{target}.xml'; write it without the extension",
                )
            )
            continue
        try:
            resolved = lookup.find(target, spec.path, reference.line)
        except LimsConfigError:
            continue  # reported by the check itself
        if resolved.suffix.lower() in YAML_SUFFIXES:
            found.append(
                (
                    str(spec.path),
                    reference.line,
                    f"reference '{target}' (role {reference.role}) is the YAML file {resolved.name}: "
                    f"{_AFFECTED} looks for XML files only and finds it only if a YAML objects: "
                    "entry loaded it first; refer to it from beamline.yaml, or write it as XML",
                )
            )
    return found


def _resolved_name(lookup: LookupPath, target: str, referrer: Path, line: int) -> str:
    """The reference as stock would need it written: with the file's extension."""
    try:
        resolved = lookup.find(target, referrer, line)
    except LimsConfigError:
        return f"{target}.yaml (or .xml)"
    return target + resolved.suffix


def _expansion_warnings(spec: ObjectSpec) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for name, value in spec.properties.items():
        for line, text in _references_in(value):
            kind = "a literal '${'" if text.startswith("$${") else "a reference"
            found.append(
                (
                    str(spec.path),
                    line,
                    f"'{name}' holds {kind} ({_head(text)}) that only mxcubecore-lims's loader "
                    f"expands: {_AFFECTED} passes the text as written",
                )
            )
    return found


def _references_in(value: RawValue) -> list[tuple[int, str]]:
    if isinstance(value, RawScalar):
        text = (value.text or "").strip()
        return [(value.line, text)] if text.startswith(("${", "$${")) else []
    items = value.items.values() if isinstance(value, RawMap) else value.items
    found: list[tuple[int, str]] = []
    for item in items:
        found.extend(_references_in(item))
    return found


def _head(text: str) -> str:
    """The reference's kind and name, never a value (``${env:NAME}`` is safe to show)."""
    end = text.find("}")
    return text[: end + 1] if end != -1 else text[:20]
