"""Reading a seed from YAML (format in the package docstring), naming file, line and key in errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mxcubecore_lims.errors import ConfigSyntaxError, ConfigUndeclaredPropertyError, ConfigValueError
from mxcubecore_lims.testing.ldap_seed.model import Seed, SeedGroup, SeedService, SeedUser

__all__ = ["load_seed_yaml", "seed_from_mapping"]

_USER_KEYS = {
    "uid": "uid",
    "cn": "cn",
    "sn": "sn",
    "givenName": "given_name",
    "password": "password",
    "mail": "mail",
    "homeDirectory": "home_directory",
    "uidNumber": "uid_number",
    "gidNumber": "gid_number",
}
_GROUP_KEYS = {"cn": "cn", "members": "members", "objectClass": "kind", "gidNumber": "gid_number"}
_GROUP_DEFAULTS = {"members": (), "kind": "groupOfNames", "gid_number": None}
_SERVICE_KEYS = {"cn": "cn", "password": "password"}
_TOP_KEYS = {"organisation", "users", "groups", "services"}
_INT_FIELDS = {"uid_number", "gid_number"}


def load_seed_yaml(path: str | Path) -> Seed:
    """Reads a seed from a YAML file (format in the package docstring).

    Args:
        path: The YAML file.

    Returns:
        The seed.

    Raises:
        ConfigSyntaxError: The file is not valid YAML.
        ConfigValueError: A key is missing or has the wrong type (the error
            carries the file, line and key).
        LimsConfigError: The seed is inconsistent (see :class:`Seed`).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = Path(path)
    try:
        data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise ConfigSyntaxError(f"malformed YAML: {exc}", path) from exc
    return seed_from_mapping(data or {}, source=path)


def seed_from_mapping(data: Mapping[str, Any], source: str | Path | None = None) -> Seed:
    """Builds a seed from a mapping shaped like the YAML format.

    Args:
        data: The mapping, e.g. parsed YAML.
        source: Where the data came from, for error messages.

    Raises:
        ConfigValueError: A key is missing or has the wrong type.
        LimsConfigError: The seed is inconsistent.
    """
    if not isinstance(data, Mapping):
        raise ConfigValueError("an LDAP seed must be a mapping", source, _line(data), "")
    _reject_unknown(data, _TOP_KEYS, source, "")
    users = tuple(
        SeedUser(**_fields(item, _USER_KEYS, source, f"users[{index}]", _user_defaults(index)))
        for index, item in enumerate(_list(data, "users", source))
    )
    groups = tuple(
        SeedGroup(**_fields(item, _GROUP_KEYS, source, f"groups[{index}]", _GROUP_DEFAULTS))
        for index, item in enumerate(_list(data, "groups", source))
    )
    services = tuple(
        SeedService(**_fields(item, _SERVICE_KEYS, source, f"services[{index}]", {}))
        for index, item in enumerate(_list(data, "services", source))
    )
    return Seed(
        users=users,
        groups=groups,
        services=services,
        organisation=str(data.get("organisation", "Example")),
    )


def _user_defaults(index: int) -> dict[str, Any]:
    """Returns defaults for optional user keys (uidNumber counts from 10001)."""
    return {"uid_number": 10001 + index, "given_name": None, "gid_number": 100}


def _list(data: Mapping[str, Any], key: str, source: str | Path | None) -> list[Any]:
    """Returns ``data[key]`` as a list (empty when absent)."""
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigValueError(f"{key} must be a list", source, _line(data, key), key)
    return value


def _fields(
    item: Any,
    keys: Mapping[str, str],
    source: str | Path | None,
    where: str,
    defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """Maps one YAML item's LDAP-style keys to dataclass fields, checking types."""
    if not isinstance(item, Mapping):
        raise ConfigValueError(f"{where} must be a mapping", source, _line(item), where)
    _reject_unknown(item, set(keys), source, where)
    values = dict(defaults)
    for key, name in keys.items():
        if key in item:
            values[name] = _checked(item, key, name, source, f"{where}.{key}")
    if "home_directory" in keys.values() and "home_directory" not in values and "uid" in values:
        values["home_directory"] = f"/home/{values['uid']}"
    missing = [key for key, name in keys.items() if name not in values]
    if missing:
        raise ConfigValueError(f"{where} lacks {', '.join(missing)}", source, _line(item), where)
    return values


def _checked(item: Mapping[str, Any], key: str, name: str, source: Any, where: str) -> Any:
    """Returns one value after checking its type."""
    value = item[key]
    if name == "members":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigValueError(f"{where} must be a list of uids", source, _line(item, key), where)
        return tuple(value)
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigValueError(f"{where} must be an integer", source, _line(item, key), where)
        return value
    if name == "password" and value is None:
        return None
    if not isinstance(value, str):
        # Passwords like 0123 must be quoted, or YAML reads a number.
        raise ConfigValueError(f"{where} must be a string", source, _line(item, key), where)
    return value


def _reject_unknown(item: Mapping[str, Any], allowed: set[str], source: Any, where: str) -> None:
    """Raises on keys the format does not define (a typo would pass silently)."""
    for key in item:
        if key not in allowed:
            raise ConfigUndeclaredPropertyError(
                f"unknown key {key!r} in {where or 'the seed'}", source, _line(item, key), str(key)
            )


def _line(node: Any, key: Any = None) -> int | None:
    """Returns the 1-based line of a ruamel node (or of one of its keys)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        # ruamel's line/column info is untyped (Any); its lines are ints.
        line: int = (lc.key(key)[0] if key is not None else lc.line) + 1
    except (KeyError, TypeError, AttributeError):
        return None
    return line
