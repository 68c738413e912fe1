"""Migrates ``ISPyBClient``-style configurations to our LIMS objects.

What changes (everything else in the directory is left alone):

* A LIMS object of mxcubecore's ISPyB family (``ISPyBClient``, the mock
  ``ISPyBClientMockup``, mxcubecore 2.x's ``ProposalTypeISPyBLims`` and
  ``UserTypeISPyBLims``, and site subclasses: any class named ``...ISPyBClient``
  or ``...ISPyBLims``) becomes ``mxcubecore_lims.HardwareObjects.UserTypeISPyBLims``
  when its ``loginType`` is ``user``, else ``...ProposalTypeISPyBLims``.
  ``loginType`` is dropped; the properties our class declares, the role
  references and the comments are kept; a property it does not declare is
  turned into a comment in place and reported with its file and line. A
  legacy ``<proxy>`` becomes ``proxy_address``.
* mxcubecore's ``LdapAuthenticator`` becomes ours (which reads the same keys).
* Site subclasses and the mockup are migrated and reported: their own code
  (overrides, canned data) does not come along. A mockup without ``ws_root``
  is pointed at the emulated ISPyB.

The work is done on a copy of the directory, checked there with the strict
loader, and only then written back, each changed file with a backup
(``<file>.bak``, or ``.bak.1``, ... when one exists). Running it again changes
nothing. With ``to="yaml"`` the migrated objects are written as YAML and the
beamline file's entries follow.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from lxml import etree
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from mxcubecore_lims.config.legacy_classes import LDAP, MOCKUP, STOCK_LIMS, USER_TYPE, classify
from mxcubecore_lims.config.lookup import ALL_SUFFIXES
from mxcubecore_lims.config.migration_report import Change, Finding, MigrationReport
from mxcubecore_lims.config.values import declared_fields
from mxcubecore_lims.errors import LimsConfigError

__all__ = ["Finding", "MigrationReport", "classify", "migrate"]

#: Where mxcubecore's LdapAuthenticator searches when it has no ``ldapdomain``: its
#: built-in default (mxcubecore 2.149, ``LdapAuthenticator._connect``: ``dc=esrf,dc=fr``).
STOCK_LDAP_DOMAIN = "esrf.fr"
#: Keys that tell our LdapAuthenticator where users are; without one it refuses to load.
_LDAP_PLACE_KEYS = ("ldapdomain", "base_dn", "bind_dn_template")

#: Where a mockup without ``ws_root`` is pointed: the emulated ISPyB's default.
EMULATED_WS_ROOT = "http://127.0.0.1:18080/ispyb/ispyb-ws/ispybWS/"

_ROOT_TAGS = {"object", "device", "equipment", "procedure"}
_PARSER = etree.XMLParser(remove_comments=False, resolve_entities=False, no_network=True)


def _declared(target: str) -> set[str]:
    from mxcubecore_lims.config.classes import config_model, resolve_class

    cls = resolve_class(target, "xml", Path("<migrate>"), 0)
    return set(declared_fields(config_model(cls)))


def _prolog(text: str) -> str:
    """Everything before the root element's start tag."""
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0:
            return ""
        for opener, closer in (("<!--", "-->"), ("<?", "?>"), ("<!", ">")):
            if text.startswith(opener, start):
                end = text.find(closer, start + len(opener))
                position = len(text) if end < 0 else end + len(closer)
                break
        else:
            return text[:start]


def _epilogue(text: str, tag: str) -> str:
    """Everything after the root element's end tag (trailing comments, final newline)."""
    end = text.rfind(f"</{tag}>")
    if end < 0:  # a self-closing root: nothing can follow that we would lose
        return "\n"
    rest = text[end + len(tag) + 3 :]
    return rest if rest else "\n"


def _comment_text(text: str) -> str:
    # "--" may not appear inside an XML comment.
    return " " + text.replace("--", "- -").strip() + " "


class _XmlMigration:
    """Migrates one XML file in place (in the working copy)."""

    def __init__(self, path: Path, original: Path, findings: list[Finding]) -> None:
        self.path = path
        self.original = original
        self.findings = findings

    def run(self) -> bytes | None:
        raw = self.path.read_bytes()
        try:
            root = etree.fromstring(raw, _PARSER)
        except etree.XMLSyntaxError:
            return None  # not ours to judge: check reports broken files
        if not isinstance(root.tag, str) or root.tag not in _ROOT_TAGS:
            return None
        legacy = root.get("class", "")
        target = classify(legacy)
        if target is None:
            return None
        encoding = root.getroottree().docinfo.encoding or "UTF-8"
        text = raw.decode(encoding)
        last = legacy.rsplit(".", 1)[-1]
        login_type = None
        if target != LDAP:
            for element in root.findall("loginType"):
                login_type = (element.text or "").strip().lower()
                self._remove(element)
            if login_type == "user":
                target = USER_TYPE
        declared = _declared(target)
        for element in list(root):
            if not isinstance(element.tag, str) or element.tag == "object":
                continue
            if element.tag == "proxy" and target != LDAP:
                self._proxy(root, element, target)
                continue
            if element.tag not in declared:
                self._comment_out(element, target)
        if target == LDAP and all(root.find(key) is None for key in _LDAP_PLACE_KEYS):
            added = etree.SubElement(root, "ldapdomain")
            added.text = STOCK_LDAP_DOMAIN
            self._tidy_tail(root, added)
            self.findings.append(Finding(self.original, root.sourceline, "warning", _no_ldap_domain("<ldapdomain>")))
        if last == MOCKUP and root.find("ws_root") is None:
            added = etree.SubElement(root, "ws_root")
            added.text = EMULATED_WS_ROOT
            self._tidy_tail(root, added)
            self.findings.append(
                Finding(
                    self.original,
                    root.sourceline,
                    "info",
                    f"no ws_root: pointed at the emulated ISPyB ({EMULATED_WS_ROOT})",
                )
            )
        if last not in STOCK_LIMS and last != "LdapAuthenticator":
            what = "the mockup's canned proposals and samples" if last == MOCKUP else f"{last}'s own code"
            self.findings.append(
                Finding(
                    self.original,
                    root.sourceline,
                    "lost",
                    f"{legacy} is migrated to {target.rsplit('.', 1)[-1]}; {what} does not come along",
                )
            )
        note = f"mxcubecore-lims migrate: was {legacy}" + (f" (loginType {login_type})" if login_type else "")
        marker = etree.Comment(_comment_text(note))
        marker.tail = root.text or "\n  "
        root.insert(0, marker)
        root.set("class", target)
        # Prolog (declaration, leading comments) and epilogue are kept as written.
        body = cast(str, etree.tostring(root, encoding="unicode", with_tail=False))
        result = _prolog(text) + body + _epilogue(text, root.tag)
        if "\r\n" in text:
            result = result.replace("\r\n", "\n").replace("\n", "\r\n")
        return result.encode(encoding)

    @staticmethod
    def _tidy_tail(root: Any, added: Any) -> None:
        siblings = [e for e in root if e is not added]
        if siblings:
            added.tail = siblings[-1].tail
            siblings[-1].tail = root.text or "\n  "

    @staticmethod
    def _remove(element: Any) -> None:
        parent = element.getparent()
        previous = element.getprevious()
        # Keep the layout: the removed element's tail goes to its predecessor.
        if previous is not None:
            previous.tail = element.tail if element.tail is not None else previous.tail
        else:
            parent.text = element.tail if element.tail is not None else parent.text
        parent.remove(element)

    def _comment_out(self, element: Any, target: str) -> None:
        shown = etree.tostring(element, encoding="unicode", with_tail=False)
        comment = etree.Comment(_comment_text(f"not used by {target.rsplit('.', 1)[-1]}: {shown}"))
        comment.tail = element.tail
        element.getparent().replace(element, comment)
        self.findings.append(
            Finding(
                self.original,
                element.sourceline,
                "unmapped",
                f"<{element.tag}> is not a key of {target.rsplit('.', 1)[-1]}; kept as a comment",
            )
        )

    def _proxy(self, root: Any, element: Any, target: str) -> None:
        value = (element.text or "").strip()
        for scheme in ("https", "http"):
            child = element.find(scheme)
            if child is not None and (child.text or "").strip():
                value = child.text.strip()
                break
        line = element.sourceline
        if not value or root.find("proxy_address") is not None:
            self._comment_out(element, target)
            return
        replacement = etree.Element("proxy_address")
        replacement.text = value
        replacement.tail = element.tail
        root.replace(element, replacement)
        shown = re.sub(r"//[^/@]*@", "//***@", value)  # credentials in a proxy URL are not printed
        self.findings.append(
            Finding(self.original, line, "info", f"<proxy> became <proxy_address>{shown}</proxy_address>")
        )


def _migrate_yaml(path: Path, original: Path, findings: list[Finding]) -> bytes | None:
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"))
    except Exception:  # not ours to judge (nor UTF-8): check reports broken files
        return None
    if not isinstance(data, dict):
        return None
    legacy = str(data.get("class", ""))
    target = classify(legacy)
    if target is None:
        return None
    configuration = data.get("configuration") or {}
    login_type = None
    if target != LDAP and "loginType" in configuration:
        login_type = str(configuration.pop("loginType")).strip().lower()
        if login_type == "user":
            target = USER_TYPE
    declared = _declared(target)
    short = target.rsplit(".", 1)[-1]
    notes = [f"mxcubecore-lims migrate: was {legacy}" + (f" (loginType {login_type})" if login_type else "")]
    for key in [key for key in list(configuration) if key not in declared]:
        line = configuration.lc.key(key)[0] + 1 if hasattr(configuration, "lc") else None
        value = configuration.pop(key)
        notes.append(f"not used by {short}: {key}: {value}")
        findings.append(Finding(original, line, "unmapped", f"{key} is not a key of {short}; kept as a comment"))
    if target == LDAP and not any(key in configuration for key in _LDAP_PLACE_KEYS):
        if not data.get("configuration"):  # absent, empty or null: ours to create
            data["configuration"] = configuration = CommentedMap()
        configuration["ldapdomain"] = STOCK_LDAP_DOMAIN
        findings.append(Finding(original, 1, "warning", _no_ldap_domain("ldapdomain")))
    if legacy.rsplit(".", 1)[-1] not in STOCK_LIMS | {"LdapAuthenticator"}:
        findings.append(Finding(original, 1, "lost", f"{legacy}'s own code does not come along"))
    data["class"] = f"{target}.{short}"  # YAML names module and class
    # Before "configuration", so the file's own header comment stays first.
    anchor = "configuration" if "configuration" in data else "class"
    # The round-trip loader gives a CommentedMap, which keeps comments.
    cast(CommentedMap, data).yaml_set_comment_before_after_key(anchor, before="\n".join(notes))
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue().encode("utf-8")


def _no_ldap_domain(key: str) -> str:
    return (
        f"no ldapdomain: mxcubecore's LdapAuthenticator searched users under dc=esrf,dc=fr (its built-in "
        f"default), so the migrated object was given {key} {STOCK_LDAP_DOMAIN} to search the same place; "
        "set it to your directory's domain (or give base_dn) if your users are not in ESRF's directory"
    )


def _backup_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    number = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak.{number}")
        number += 1
    return candidate


def _retarget_references(work: Path, renamed: dict[str, str]) -> list[Change]:
    """Beamline (YAML) files naming a converted file by its old name follow it."""
    changes = []
    patterns = {
        re.compile(r"(:\s*[\"']?/?)" + re.escape(old) + r"(?=[\"']?\s*(?:#.*)?$)", re.MULTILINE): new
        for old, new in renamed.items()
    }
    for path in sorted(work.rglob("*")):
        if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        updated = text
        for pattern, new in patterns.items():
            updated = pattern.sub(_keep_prefix_then(new), updated)
        if updated != text:
            path.write_bytes(updated.encode("utf-8"))
            relative = path.relative_to(work)
            changes.append(Change(relative, relative, text, updated))
    return changes


def _keep_prefix_then(new: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement: the match's first group, then ``new`` (taken literally).

    Args:
        new: The text that replaces the rest of the match.

    Returns:
        The replacement function.
    """

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + new

    return replace


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def migrate(
    path: str | Path,
    to: str = "xml",
    dry_run: bool = False,
    lookup: list[str | Path] | None = None,
) -> MigrationReport:
    """Migrates a configuration directory (or one file in it).

    Args:
        path: A beamline configuration directory, or one object file.
        to: ``xml`` (keep the format) or ``yaml`` (write migrated objects as YAML).
        dry_run: Compute and check everything, write nothing.
        lookup: More directories for resolving references while checking.

    Returns:
        The report: changes, findings, problems of the migrated result.

    Raises:
        LimsConfigError: ``path`` does not exist, or ``to`` is not xml/yaml.
    """
    from mxcubecore_lims.config.check import check_directory
    from mxcubecore_lims.config.convert import xml_to_yaml
    from mxcubecore_lims.config.lookup import LookupPath

    source = Path(path).resolve()
    if not source.exists():
        raise LimsConfigError(f"{source} does not exist")
    if to not in ("xml", "yaml"):
        raise LimsConfigError(f"--to must be xml or yaml, not {to!r}")
    directory = source if source.is_dir() else source.parent
    report = MigrationReport(directory, dry_run=dry_run)
    extra = list(lookup or [])
    with tempfile.TemporaryDirectory(prefix="mxcubecore-lims-migrate-") as temporary:
        work = Path(temporary) / directory.name
        # Links are followed: the check must see what the loader will read.
        shutil.copytree(directory, work, symlinks=False, ignore=shutil.ignore_patterns("*.bak", "*.bak.*"))
        candidates = (
            [source.relative_to(directory)]
            if source.is_file()
            else [
                p.relative_to(work) for p in sorted(work.rglob("*")) if p.is_file() and p.suffix.lower() in ALL_SUFFIXES
            ]
        )
        renamed: dict[str, str] = {}
        for relative in candidates:
            copy, original = work / relative, directory / relative
            migrate_file: Callable[[], bytes | None] = (
                _XmlMigration(copy, original, report.findings).run
                if copy.suffix.lower() == ".xml"
                else functools.partial(_migrate_yaml, copy, original, report.findings)
            )
            before_bytes = copy.read_bytes()
            after = migrate_file()
            if after is None:
                continue
            if original.is_symlink():
                # Writing through the link would change a file other
                # configurations may share: refuse, and say which file to migrate.
                report.problems.append(
                    LimsConfigError(
                        f"a legacy object behind a symbolic link to {original.resolve()}: "
                        "migrate that file (or replace the link by a copy)",
                        original,
                    )
                )
                continue
            copy.write_bytes(after)
            target = relative
            if to == "yaml" and copy.suffix.lower() == ".xml":
                converted = xml_to_yaml(copy, LookupPath([copy.parent, work, *extra])).encode("utf-8")
                target = relative.with_suffix(".yaml")
                (work / target).write_bytes(converted)
                copy.unlink()
                renamed[relative.name] = target.name
                after = converted
            report.changes.append(Change(relative, target, _text(before_bytes), _text(after), after))
        if renamed:
            report.changes.extend(_retarget_references(work, renamed))
        if report.changes:
            # Only what the migration made worse blocks it: a site's own
            # unloadable objects were a problem before and stay one.
            before = {_normalised(p, directory) for p in check_directory(directory, extra, strict=True)}
            for problem in check_directory(work, extra, strict=True):
                _rename_problem(problem, work, directory)
                bucket = report.other_problems if _normalised(problem, directory) in before else report.problems
                bucket.append(problem)
    if dry_run or not report.ok:
        return report
    for change in report.changes:
        old, new = directory / change.source, directory / change.target
        backup = _backup_path(old)
        if old == new:
            shutil.copy2(old, backup)
            new.write_bytes(change.data)
        else:
            new.write_bytes(change.data)
            old.rename(backup)  # the XML stays, as the backup, next to its YAML successor
        report.backups.append(backup)
    return report


def _normalised(problem: LimsConfigError, directory: Path) -> str:
    return str(problem).replace(str(directory), "<config>")


def _rename_problem(problem: LimsConfigError, work: Path, directory: Path) -> None:
    """Makes a problem found in the working copy name the user's file."""
    if getattr(problem, "file", None):
        problem.file = str(problem.file).replace(str(work), str(directory))
    problem.args = tuple(str(arg).replace(str(work), str(directory)) for arg in problem.args)
