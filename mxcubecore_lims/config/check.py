"""Reports every configuration problem in a directory, not only the first.

Checking reads every file, resolves every reference, imports every class and
validates every value against its object's ``HOConfig``, but calls no
``_init()`` or ``init()``: a check must not talk to hardware or servers.
"""

from __future__ import annotations

from pathlib import Path

from mxcubecore_lims.config.loader import ConfigLoader
from mxcubecore_lims.config.lookup import ALL_SUFFIXES, LookupPath, file_format
from mxcubecore_lims.config.spec import ObjectSpec
from mxcubecore_lims.errors import ConfigAmbiguousFileError, LimsConfigError


def configuration_warnings(
    directory: str | Path, extra_lookup: list[str | Path] | None = None, stock_loader: bool = True
) -> list[str]:
    """``file:line: ...`` warnings: legacy classes, deprecated keys, stock-loader traps.

    Warnings never fail a check: what they name loads with our loader today.

    Args:
        directory: The configuration directory.
        extra_lookup: Further lookup directories, to resolve references.
        stock_loader: Also warn about what mxcubecore's own loader would drop
            or read differently (off for a configuration only we load).
    """
    from mxcubecore_lims.config.stock_compat import stock_loader_warnings

    root = Path(directory).resolve()
    specs = _read_specs(root)
    warnings = deprecation_warnings(specs)
    if stock_loader:
        warnings.extend(stock_loader_warnings(specs, root, extra_lookup))
    return warnings


def _read_specs(root: Path) -> list[ObjectSpec]:
    """Every configuration file of a directory that reads (the check reports the others)."""
    from mxcubecore_lims.config.xml_reader import read_xml
    from mxcubecore_lims.config.yaml_reader import read_yaml

    specs = []
    for path in sorted(_configuration_files(root)):
        try:
            specs.append(read_xml(path) if file_format(path) == "xml" else read_yaml(path))
        except LimsConfigError:
            continue
    return specs


def deprecation_warnings(specs: list[ObjectSpec]) -> list[str]:
    """Warnings for legacy classes and deprecated keys, with what to do.

    mxcubecore's classes and keys still load where they load today; these
    say what to move to.
    """
    from mxcubecore_lims.config.describe import deprecation
    from mxcubecore_lims.config.legacy_classes import classify

    warnings: list[str] = []
    for spec in specs:
        path = spec.path
        class_path = spec.class_path or ""
        target = classify(class_path)
        if target is not None:
            warnings.append(
                f"{path}:{spec.class_line}: {class_path} is mxcubecore's; "
                f"run 'mxcubecore-lims migrate {path.parent}' to move to {target.rsplit('.', 1)[-1]}"
            )
            continue
        if not class_path.startswith("mxcubecore_lims."):
            continue
        for key, value in spec.properties.items():
            instead = deprecation(class_path, key)
            if instead:
                line = getattr(value, "line", None) or spec.class_line
                warnings.append(f"{path}:{line}: {key} is deprecated: {instead}")
    return warnings


def check_directory(
    directory: str | Path, extra_lookup: list[str | Path] | None = None, strict: bool = True
) -> list[LimsConfigError]:
    """Checks a configuration directory.

    Args:
        directory: The directory to check; it comes first on the lookup path.
        extra_lookup: Further lookup directories (not themselves checked file
            by file, only as reference targets).
        strict: Report undeclared properties of objects that declare a model.

    Returns:
        Every problem found, ordered by file and line; empty when all is well.
    """
    root = Path(directory).resolve()
    lookup = LookupPath([root, *(extra_lookup or [])])
    loader = ConfigLoader(lookup, strict=strict, collect_problems=True, initialise=False)
    with lookup.cached():
        loader.load_beamline(register=False)
        for path in sorted(_configuration_files(root)):
            if path not in loader.loaded and path not in loader.failed:
                loader.load_file(path, path.stem)
    problems: list[LimsConfigError] = list(loader.problems)
    # A clash nobody references is still a trap for the next reference.
    reported = {p.candidates for p in problems if isinstance(p, ConfigAmbiguousFileError)}
    problems.extend(p for p in _ambiguous_names(root) if p.candidates not in reported)
    return _unique_sorted(problems)


#: Directories of a configuration that hold no hardware objects: mxcubeweb's own
#: ``server.yaml`` and ``ui.yaml`` (it finds ``mxcube-web`` on the lookup path).
NOT_HARDWARE_OBJECTS = frozenset({"mxcube-web"})


def _configuration_files(root: Path) -> list[Path]:
    # Not resolved: the loader names files by lookup directory and reference, symlinks kept.
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in ALL_SUFFIXES
        and not NOT_HARDWARE_OBJECTS.intersection(p.relative_to(root).parts[:-1])
    ]


def _ambiguous_names(root: Path) -> list[ConfigAmbiguousFileError]:
    """A name that exists both as XML and as YAML in one directory."""
    by_stem: dict[Path, list[Path]] = {}
    for path in _configuration_files(root):
        by_stem.setdefault(path.with_suffix(""), []).append(path)
    problems: list[ConfigAmbiguousFileError] = []
    for stem, paths in sorted(by_stem.items()):
        if len({file_format(p) for p in paths}) > 1:
            ordered = sorted(paths)
            shown = " and ".join(p.name for p in ordered)
            problems.append(
                ConfigAmbiguousFileError(
                    f"'{stem.name}' is ambiguous: {shown} both exist",
                    ordered[0],
                    candidates=tuple(str(p) for p in ordered),
                )
            )
    return problems


def _unique_sorted(problems: list[LimsConfigError]) -> list[LimsConfigError]:
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            unique.append(problem)
    return sorted(unique, key=lambda p: (p.file or "", p.line or 0))
