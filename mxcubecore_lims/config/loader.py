"""Loads one object graph from a directory of mixed XML and YAML files.

Semantics (DESIGN §4):

* A reference by name resolves to ``name.xml`` or ``name.yaml``, first hit on
  the lookup path (:mod:`mxcubecore_lims.config.lookup`), whatever format the
  referring file has.
* One instance per file, shared by every referrer.
* Role objects are initialised before the objects that use them. The order of
  the steps follows mxcubecore per format: an XML object's references are
  loaded before its ``_init()``; a YAML object's ``_init()`` runs before its
  contained objects are loaded, its ``init()`` after.
* Values are typed by the object's ``HOConfig`` (:mod:`.values`).
* Missing files, cycles, unknown classes, wrongly typed values, undeclared
  properties (strict mode) and malformed files fail with file and line. In
  collecting mode (used by ``check``) every problem is recorded and loading
  goes on with what is left.
* The loaded graph is registered where mxcubecore code expects it:
  ``HWR.beamline`` and ``HWR.get_hardware_repository()``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mxcubecore_lims.config.classes import resolve_class
from mxcubecore_lims.config.lookup import LookupPath, file_format
from mxcubecore_lims.config.mxcubecore_hooks import (
    install_registry,
    lax_core_validation,
    mirror_xml_properties,
    uninstall_registry,
)
from mxcubecore_lims.config.spec import ObjectSpec, Reference
from mxcubecore_lims.config.values import UNDECLARED, declared_fields, resolve_reference, shape_value
from mxcubecore_lims.config.xml_reader import read_xml
from mxcubecore_lims.config.yaml_reader import new_yaml, read_yaml
from mxcubecore_lims.errors import (
    ConfigClassError,
    ConfigCycleError,
    ConfigInitError,
    ConfigUndeclaredPropertyError,
    ConfigValueError,
    LimsConfigError,
)

log = logging.getLogger(__name__)

#: Property names whose values are never shown in an error message.
SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "key")


def is_secret_name(name: str) -> bool:
    """True for property names that likely hold a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


@dataclass
class LoadedObject:
    """One object of a loaded graph.

    Attributes:
        name: The name mxcubecore registers it under (``/session``).
        path: Its configuration file.
        class_line: Line of the ``class`` declaration in that file.
        obj: The hardware object.
        roles: Every ``(referrer name, role)`` it is attached under.
    """

    name: str
    path: Path
    class_line: int
    obj: Any
    roles: list[tuple[str, str]] = field(default_factory=list)

    @property
    def class_name(self) -> str:
        """Fully qualified class name of the object."""
        cls = type(self.obj)
        return f"{cls.__module__}.{cls.__qualname__}"


@dataclass
class LoadedBeamline:
    """A loaded object graph.

    Attributes:
        beamline: The top object (``HWR.beamline`` when registered).
        lookup: The lookup path it was loaded from.
        objects: Every loaded object by file, in loading order; holds the strong
            references that mxcubecore's weak registry relies on.
        problems: Problems recorded in collecting mode.
        registered: Whether the graph was registered in mxcubecore's repository.
    """

    beamline: Any
    lookup: LookupPath
    objects: dict[Path, LoadedObject]
    problems: list[LimsConfigError] = field(default_factory=list)
    registered: bool = False

    def walk(self) -> Iterator[tuple[int, str, LoadedObject]]:
        """Yields ``(depth, role, object)`` depth-first from the top, each object once."""
        by_object = {id(entry.obj): entry for entry in self.objects.values()}
        seen: set[int] = set()

        def visit(entry: LoadedObject, role: str, depth: int) -> Iterator[tuple[int, str, LoadedObject]]:
            yield depth, role, entry
            if id(entry.obj) in seen:
                return
            seen.add(id(entry.obj))
            for child_role, child in entry.obj.objects_by_role.items():
                child_entry = by_object.get(id(child))
                if child_entry is not None:
                    yield from visit(child_entry, child_role, depth + 1)

        top = by_object.get(id(self.beamline))
        if top is not None:
            yield from visit(top, "beamline", 0)

    def close(self) -> None:
        """Unregisters the graph from mxcubecore's repository (if registered)."""
        if self.registered:
            from mxcubecore import HardwareRepository as HWR

            if HWR.beamline is self.beamline:
                HWR.uninit_hardware_repository()
            self.registered = False


class ConfigLoader:
    """Builds hardware objects from configuration files.

    Args:
        lookup: Where configuration files are looked up.
        strict: Undeclared properties of objects that declare an ``HOConfig``
            are errors (otherwise they are accepted, as mxcubecore's lax mode).
        collect_problems: Record every problem and go on, instead of raising
            the first one.
        initialise: Call ``_init()`` and ``init()``; off for checking, which
            must not talk to hardware or servers.
    """

    def __init__(
        self,
        lookup: LookupPath,
        *,
        strict: bool = False,
        collect_problems: bool = False,
        initialise: bool = True,
    ) -> None:
        self.lookup = lookup
        self.strict = strict
        self.collect_problems = collect_problems
        self.initialise = initialise
        self.problems: list[LimsConfigError] = []
        self.loaded: dict[Path, LoadedObject] = {}
        self._yaml = new_yaml()
        self.failed: set[Path] = set()
        # Files being built, each with the line of the reference it is following.
        self._stack: list[list[Any]] = []
        self._registry: Any = None

    # ------------------------------------------------------------------ API

    def load_beamline(self, register: bool = True) -> LoadedBeamline:
        """Loads the graph below the beamline file.

        Args:
            register: Install the graph as mxcubecore's repository
                (``HWR.beamline``); refused if one is installed already.

        Returns:
            The loaded graph.

        Raises:
            LimsConfigError: The first problem (or, collecting, never).
            RuntimeError: ``register`` while mxcubecore's repository is initialised.
        """
        try:
            top_file = self.lookup.find_beamline_file()
        except LimsConfigError as problem:
            self._report(problem)
            return LoadedBeamline(None, self.lookup, {}, self.problems)
        if register:
            self._registry = install_registry(self.lookup, self._load_by_name)
        try:
            with lax_core_validation(), self.lookup.cached():
                top = self._load(top_file, "beamline", None)
        except BaseException:
            if register:
                uninstall_registry()
            raise
        graph = LoadedBeamline(top, self.lookup, dict(self.loaded), list(self.problems), register)
        if register and top is None:
            uninstall_registry()
            graph.registered = False
        return graph

    def _load_by_name(self, name: str) -> Any:
        """Loads an object that code asks mxcubecore's repository for by name.

        Objects may call ``get_hardware_object("/name")`` in their ``init()``;
        answering through this loader keeps one instance per file and lets
        that file be YAML.
        """
        try:
            path = self.lookup.find(name)
        except LimsConfigError as problem:
            log.error("repository look-up of %s: %s", name, problem)
            return None
        return self._load(path, Path(path).stem, None)

    def load_file(self, path: Path, role: str) -> Any:
        """Loads the graph below one file, without registering it.

        Args:
            path: The configuration file.
            role: The role name the top object gets.

        Returns:
            The object, or None when collecting and it failed.
        """
        with lax_core_validation(), self.lookup.cached():
            return self._load(Path(os.path.abspath(path)), role, None)

    # ------------------------------------------------------------- loading

    def _report(self, problem: LimsConfigError) -> None:
        if not self.collect_problems:
            raise problem
        self.problems.append(problem)

    def _read(self, path: Path) -> ObjectSpec:
        # Each file is built once (loaded or failed), so its spec is not kept:
        # holding every parsed file for the graph's life doubled peak memory.
        if file_format(path) == "xml":
            return read_xml(path)
        return read_yaml(path, self._yaml)

    def _load(self, path: Path, role: str, via: tuple[Path, Reference] | None) -> Any:
        if any(path == entry for entry, _ in self._stack):
            self._report(self._cycle_error(path, via))
            return None
        if path in self.loaded:
            return self.loaded[path].obj
        if path in self.failed:
            return None
        try:
            return self._build(path, role)
        except LimsConfigError as problem:
            self.failed.add(path)
            self._report(problem)
            return None

    def _cycle_error(self, path: Path, via: tuple[Path, Reference] | None) -> ConfigCycleError:
        start = next(i for i, (entry, _) in enumerate(self._stack) if entry == path)
        chain = [f"{entry.name}:{line}" for entry, line in self._stack[start:]]  # line of the outgoing reference
        chain.append(path.name)
        referrer, reference = via if via else (path, None)
        return ConfigCycleError(
            "reference cycle: " + " -> ".join(chain),
            referrer,
            reference.line if reference else None,
            cycle=(*(str(entry) for entry, _ in self._stack[start:]), str(path)),
        )

    def _build(self, path: Path, role: str) -> Any:
        spec = self._read(path)
        if not spec.class_path:
            raise ConfigClassError("no 'class' given", path, spec.class_line)
        cls = resolve_class(spec.class_path, spec.format, path, spec.class_line)
        name = self.lookup.name_of(path)
        try:
            obj = cls(name if spec.format == "xml" else role)
        except Exception as error:
            raise ConfigClassError(
                f"constructing {spec.class_path} failed: {error.__class__.__name__}: {error}",
                path,
                spec.class_line,
            ) from error
        entry = LoadedObject(name, path, spec.class_line, obj)
        self._register(entry, is_top=not self._stack)
        self._stack.append([path, spec.class_line])
        try:
            if spec.format == "xml":
                self._load_references(entry, spec)
                self._add_xml_commands(entry, spec)
                self._configure(entry, spec)
                self._run(entry, "_init")
            else:
                try:
                    self._configure(entry, spec)
                except LimsConfigError:
                    if self.collect_problems:
                        # Still look below, so a check reports the contents' problems too.
                        self._load_references(entry, spec, attach=False)
                    raise
                self._run(entry, "_init")
                self._add_yaml_commands(entry, spec)
                self._load_references(entry, spec)
            self._run(entry, "init")
        finally:
            self._stack.pop()
        self.loaded[path] = entry
        return obj

    def _register(self, entry: LoadedObject, is_top: bool) -> None:
        if self._registry is None:
            return
        from mxcubecore import HardwareRepository as HWR

        self._registry.hardware_objects[entry.name] = entry.obj
        if is_top:
            # mxcubecore links the beamline before loading its contents.
            HWR.beamline = entry.obj

    def _load_references(self, entry: LoadedObject, spec: ObjectSpec, attach: bool = True) -> None:
        for reference in spec.references:
            try:
                target = self.lookup.find(reference.target, entry.path, reference.line)
            except LimsConfigError as problem:
                self._report(problem)
                continue
            self._stack[-1][1] = reference.line
            child = self._load(target, reference.role, (entry.path, reference))
            if child is not None and attach:
                self._attach(entry, spec, reference, child, target)

    def _attach(self, entry: LoadedObject, spec: ObjectSpec, reference: Reference, child: Any, target: Path) -> None:
        from mxcubecore.BaseHardwareObjects import HardwareObjectNode

        role = reference.role.lower() if spec.format == "xml" else reference.role
        entry.obj._hwobj_by_role[role] = child
        if spec.format == "xml" and isinstance(entry.obj, HardwareObjectNode):
            entry.obj._add_object(reference.tag, child, role=role)
        if getattr(child, "_hwobj_container", None) is None:
            child._hwobj_container = entry.obj
            child._name = role
        child_entry = self.loaded.get(target)
        if child_entry is not None:
            child_entry.roles.append((entry.name, role))

    def _add_xml_commands(self, entry: LoadedObject, spec: ObjectSpec) -> None:
        if not (spec.xml_commands or spec.xml_channels):
            return
        for attributes, text in spec.xml_commands:
            entry.obj.add_command(dict(attributes), text, add_now=False)
        for attributes, text in spec.xml_channels:
            entry.obj.add_channel(dict(attributes), text, add_now=False)
        if self.initialise:
            self._run(entry, "_add_channels_and_commands")

    def _add_yaml_commands(self, entry: LoadedObject, spec: ObjectSpec) -> None:
        if spec.yaml_extra and self.initialise:
            from mxcubecore.protocols_config import setup_commands_channels

            setup_commands_channels(entry.obj, dict(spec.yaml_extra))

    def _run(self, entry: LoadedObject, method: str) -> None:
        if not self.initialise:
            return
        try:
            getattr(entry.obj, method)()
        except LimsConfigError:
            raise
        except Exception as error:
            raise ConfigInitError(
                f"{type(entry.obj).__name__}.{method}() failed: {error.__class__.__name__}: {error}",
                entry.path,
                entry.class_line,
            ) from error

    # ------------------------------------------------------- configuration

    def _configure(self, entry: LoadedObject, spec: ObjectSpec) -> None:
        model = type(entry.obj).HOConfig
        fields = declared_fields(model) if model.model_fields else {}
        base_dir = spec.path.parent
        values: dict[str, Any] = {}
        referenced: set[str] = set()  # properties with a resolved ${...}: never shown

        def undeclared(key: str, line: int) -> None:
            if self.strict:
                self._report(
                    ConfigUndeclaredPropertyError(
                        f"undeclared key '{key}' in a property of {type(entry.obj).__name__}",
                        spec.path,
                        line,
                        key,
                    )
                )

        for name, raw in spec.properties.items():

            def resolve(text: str, line: int, _name: str = name) -> str:
                value = resolve_reference(text, base_dir, spec.path, line, _name)
                if value != text:
                    referenced.add(_name)
                return value

            annotation = fields.get(name, UNDECLARED) if fields else UNDECLARED
            if annotation is UNDECLARED and is_secret_name(name):
                # mxcubecore would read an undeclared password "0123" as 123.
                annotation = str
            try:
                values[name] = shape_value(raw, annotation, resolve, undeclared)
            except LimsConfigError as problem:
                self._report(problem)
        if fields and self.strict:
            for name in values:
                if name not in fields:
                    self._report(
                        ConfigUndeclaredPropertyError(
                            f"undeclared property '{name}' for {type(entry.obj).__name__}",
                            spec.path,
                            spec.properties[name].line,
                            name,
                        )
                    )
            values = {k: v for k, v in values.items() if k in fields}
        try:
            entry.obj._config = model(**values)
        except ValidationError as error:
            problems = [self._value_problem(spec, detail, referenced) for detail in error.errors()]
            for other in problems[1:]:
                self._report(other)
            raise problems[0] from error
        if spec.format == "xml":
            mirror_xml_properties(entry.obj, spec, values)

    @staticmethod
    def _value_problem(spec: ObjectSpec, detail: Any, referenced: set[str]) -> ConfigValueError:
        location = tuple(detail.get("loc", ()))
        name = str(location[0]) if location else ""
        dotted = ".".join(str(step) for step in location)
        message = detail.get("msg", "invalid value")
        secret = name in referenced or any(is_secret_name(str(step)) for step in location)
        if name and not secret and "input" in detail:
            shown = repr(detail["input"])
            message = f"{message} (got {shown[:120]})"
        return ConfigValueError(f"property '{dotted or '?'}': {message}", spec.path, spec.line_of(location), name)


def load_beamline(
    lookup_path: str | Path | Sequence[str | Path], *, strict: bool = False, register: bool = True
) -> LoadedBeamline:
    """Loads a beamline configuration and (by default) installs it as ``HWR.beamline``.

    Args:
        lookup_path: Configuration directories, best first (a list, or one
            string separated by ``os.pathsep``).
        strict: Undeclared properties are errors.
        register: Install the graph in mxcubecore's repository.

    Returns:
        The loaded graph; call ``close()`` to unregister it.

    Raises:
        LimsConfigError: The first problem, with file and line.
    """
    return ConfigLoader(LookupPath(lookup_path), strict=strict).load_beamline(register=register)
