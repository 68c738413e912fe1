"""``mxcubecore-lims migrate``: ISPyBClient-style configurations become ours.

The corpus in ``tests/data/migration`` holds one small beamline configuration
per case, in the shapes sites use (ESRF, ALBA, DESY, EMBL, LNLS, SOLEIL, MAX IV,
the mockup), each with an ``expected.yaml``:

* ``target_class``: the LIMS object's class after migration;
* ``lims_file`` (default ``lims.xml``) and ``lims_changed`` (default true);
* ``beamline_file`` (default ``beamline.yaml``);
* ``kept``: every property the LIMS object has after migration, as text;
* ``roles``: role -> href of the LIMS object's references;
* ``unmapped``: keys our class does not declare (commented out and reported);
* ``lost``: a site class or the mockup, whose own code does not come along;
* ``info``: an ``info`` finding is expected for the LIMS file;
* ``ldap`` (optional): the LDAP object's ``file``, ``kept`` and ``unmapped``, and
  ``warning``: text of the one ``warning`` finding expected for it (none if absent);
* ``untouched`` (optional): files that must not change;
* ``ok: false`` and ``problem_key``: a case whose migrated result is invalid.

Each case is copied to a temporary directory first (without ``expected.yaml``).
Loading a migrated configuration connects to nothing: sockets are refused.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree
from pydantic import SecretStr

from mxcubecore_lims.config.loader import load_beamline

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "migration"
TOOL_SCRIPT = ROOT / "tools" / "migrate_ispybclient.py"
LDAP_CLASS = "mxcubecore_lims.HardwareObjects.LdapAuthenticator"
EMULATED_WS_ROOT = "http://127.0.0.1:18080/ispyb/ispyb-ws/ispybWS/"


def _expected(name: str) -> dict[str, Any]:
    return yaml.safe_load((CORPUS / name / "expected.yaml").read_text(encoding="utf-8"))


ALL_CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.yaml").is_file())
CASES = [name for name in ALL_CASES if _expected(name).get("ok", True)]
INVALID_CASES = [name for name in ALL_CASES if not _expected(name).get("ok", True)]


# ------------------------------------------------------------------ helpers


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrating, checking and loading must not open a connection."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access during a migration test: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def copy_case(name: str, tmp_path: Path) -> Path:
    directory = tmp_path / name
    shutil.copytree(CORPUS / name, directory, ignore=shutil.ignore_patterns("expected.yaml"))
    return directory.resolve()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def lims_file(expected: dict[str, Any]) -> str:
    return expected.get("lims_file", "lims.xml")


def beamline_file(expected: dict[str, Any]) -> str:
    return expected.get("beamline_file", "beamline.yaml")


def expected_changes(expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> {target class, kept, unmapped} of every file the migration must change."""
    changes: dict[str, dict[str, Any]] = {}
    if expected.get("lims_changed", True):
        changes[lims_file(expected)] = {
            "target": expected["target_class"],
            "kept": expected["kept"],
            "unmapped": expected.get("unmapped") or [],
        }
    ldap = expected.get("ldap")
    if ldap and ldap.get("changed", True):
        changes[ldap["file"]] = {"target": LDAP_CLASS, "kept": ldap["kept"], "unmapped": ldap.get("unmapped") or []}
    return changes


def legacy_class(path: Path) -> str:
    return etree.parse(str(path)).getroot().get("class")


def element_line(text: str, key: str) -> int:
    """Line (1-based) of the first start tag ``<key>`` in an XML text."""
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(rf"<{re.escape(key)}[\s>/]", line):
            return number
    raise AssertionError(f"no <{key}> in the original file")


def property_elements(path: Path) -> dict[str, str | None]:
    """Top-level property elements (not references, not comments) of an XML object file."""
    root = etree.parse(str(path)).getroot()
    return {
        el.tag: el.text
        for el in root
        if isinstance(el.tag, str) and el.tag != "object" and el.get("href") is None and el.get("hwrid") is None
    }


def comments(text: str) -> list[str]:
    return [c.strip() for c in re.findall(r"<!--(.*?)-->", text, flags=re.S)]


def same_value(actual: Any, text: str, key: str) -> bool:
    """Whether a loaded (typed) value is what the text in expected.yaml says."""
    if isinstance(actual, SecretStr):
        actual = actual.get_secret_value()
    if isinstance(actual, bool):
        return actual == (text.strip().lower() in ("true", "1", "yes", "on"))
    if isinstance(actual, (int, float)):
        return float(actual) == float(text)
    if key == "ws_root":  # our HOConfig adds the final slash
        return str(actual).rstrip("/") == text.rstrip("/")
    return str(actual) == text


def unmapped_findings(report: Any, path: Path) -> list[Any]:
    return [f for f in report.findings if f.kind == "unmapped" and Path(f.file).resolve() == path.resolve()]


def findings_of(report: Any, path: Path, kind: str) -> list[Any]:
    return [f for f in report.findings if f.kind == kind and Path(f.file).resolve() == path.resolve()]


def loaded_by_file(graph: Any, directory: Path, stem: str) -> Any:
    for path, entry in graph.objects.items():
        if Path(path).parent.resolve() == directory and Path(path).stem == stem:
            return entry.obj
    raise AssertionError(f"nothing loaded from {stem}.* in {directory}")


def check_loaded(directory: Path, expected: dict[str, Any]) -> None:
    """Loads the migrated directory strictly and compares the LIMS (and LDAP) object with expected.yaml."""
    graph = load_beamline([directory], strict=True)
    try:
        lims = graph.beamline.get_object_by_role("lims")
        assert lims is not None, "the beamline has no lims role after migration"
        target = expected["target_class"]
        assert type(lims).__module__ == target and type(lims).__name__ == target.rsplit(".", 1)[-1]
        for key, text in expected["kept"].items():
            assert same_value(getattr(lims.config, key), str(text), key), (key, getattr(lims.config, key), text)
            assert same_value(lims.get_property(key), str(text), key), (key, lims.get_property(key), text)
        for role, href in (expected.get("roles") or {}).items():
            wanted = loaded_by_file(graph, directory, href.strip("/"))
            assert lims.get_object_by_role(role) is wanted, f"role {role} does not resolve to {href}"
            assert lims._role(role) is wanted
        if "ldapServer" in (expected.get("roles") or {}) or "ldapserver" in (expected.get("roles") or {}):
            assert lims._role("ldapServer") is not None
        ldap = expected.get("ldap")
        if ldap:
            obj = loaded_by_file(graph, directory, Path(ldap["file"]).stem)
            assert type(obj).__module__ == LDAP_CLASS
            for key, text in ldap["kept"].items():
                assert same_value(getattr(obj.config, key), str(text), key), (key, getattr(obj.config, key), text)
            obj.config.to_settings()  # describes a directory
    finally:
        graph.close()


# ------------------------------------------------------------ the corpus


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 15
    assert len(INVALID_CASES) >= 2
    for name in CASES:
        expected = _expected(name)
        lims = CORPUS / name / lims_file(expected)
        assert lims.is_file() and (CORPUS / name / beamline_file(expected)).is_file()
        assert comments(lims.read_text(encoding="utf-8")), f"{name}: every lims file has a comment"


@pytest.mark.parametrize("name", CASES)
def test_migrate_case(name: str, tmp_path: Path, clean_repository: None) -> None:
    from mxcubecore_lims.config.migrate import migrate

    expected = _expected(name)
    directory = copy_case(name, tmp_path)
    before = snapshot(directory)
    changes = expected_changes(expected)

    report = migrate(directory)

    assert report.ok, [str(p) for p in report.problems]
    assert report.problems == []
    assert sorted(p.name for p in report.changed) == sorted(changes), report.changed
    after = snapshot(directory)
    # Backups: one per changed file, the original bytes.
    assert sorted(p.name for p in report.backups) == sorted(f"{f}.bak" for f in changes)
    for backup in report.backups:
        assert backup.is_file()
        assert backup.read_bytes() == before[backup.name[: -len(".bak")]], f"{backup} is not the original"
    # Nothing else changed, nothing else appeared.
    assert set(after) == set(before) | {f"{f}.bak" for f in changes}
    for file, content in before.items():
        if file not in changes:
            assert after[file] == content, f"{file} changed"
    for file in expected.get("untouched") or []:
        assert after[file] == before[file]

    for file, change in changes.items():
        path = directory / file
        original = before[file].decode("utf-8")
        migrated = path.read_text(encoding="utf-8")
        assert legacy_class(path) == change["target"]
        elements = property_elements(path)
        assert "loginType" not in elements
        assert set(elements) == set(change["kept"]), (file, sorted(elements))
        # Every comment of the original survives.
        for comment in comments(original):
            assert comment in migrated, f"{file}: comment lost: {comment!r}"
        # Unmapped keys: commented in place, reported with file and line.
        found = unmapped_findings(report, path)
        assert sorted(f.line for f in found) == sorted(element_line(original, k) for k in change["unmapped"]), [
            str(f) for f in found
        ]
        for key in change["unmapped"]:
            assert any(f"<{key}>" in c and "not used by" in c for c in comments(migrated)), f"{key} not commented"
            assert any(key in f.message for f in found)
        # Still well-formed XML.
        etree.fromstring(path.read_bytes())

    lims_path = directory / lims_file(expected)
    assert bool(findings_of(report, lims_path, "lost")) == bool(expected.get("lost")), [str(f) for f in report.findings]
    assert bool(findings_of(report, lims_path, "info")) == bool(expected.get("info")), [str(f) for f in report.findings]
    ldap = expected.get("ldap") or {}
    if ldap:
        warned = findings_of(report, directory / ldap["file"], "warning")
        assert [f.line for f in warned] == ([1] if ldap.get("warning") else []), [str(f) for f in report.findings]
        assert all(ldap["warning"] in f.message for f in warned)
    for finding in report.findings:
        assert finding.kind in {"unmapped", "lost", "info", "warning"}

    check_loaded(directory, expected)


@pytest.mark.parametrize("name", CASES)
def test_second_run_changes_nothing(name: str, tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case(name, tmp_path)
    assert migrate(directory).ok
    once = snapshot(directory)
    again = migrate(directory)
    assert again.ok
    assert again.changed == [] and again.backups == []
    assert not [f for f in again.findings if f.kind in ("unmapped", "lost")]
    assert snapshot(directory) == once


@pytest.mark.parametrize("name", CASES)
def test_dry_run_writes_nothing(name: str, tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    expected = _expected(name)
    directory = copy_case(name, tmp_path)
    before = snapshot(directory)
    legacy = {f: legacy_class(directory / f) for f in expected_changes(expected)}

    report = migrate(directory, dry_run=True)

    assert report.ok, [str(p) for p in report.problems]
    assert snapshot(directory) == before
    assert report.backups == []
    assert sorted(p.name for p in report.changed) == sorted(expected_changes(expected))
    diff = report.diff()
    for file, change in expected_changes(expected).items():
        assert f"--- a/{file}" in diff and f"+++ b/{file}" in diff
        removed = [line for line in diff.splitlines() if line.startswith("-") and legacy[file] in line]
        added = [line for line in diff.splitlines() if line.startswith("+") and change["target"] in line]
        assert removed and added, diff
    assert "@@ " in diff
    # The dry run predicts the real run.
    real = migrate(directory)
    assert real.diff() == diff
    assert [str(f) for f in real.findings] == [str(f) for f in report.findings]


@pytest.mark.parametrize("name", CASES)
def test_to_yaml(name: str, tmp_path: Path, clean_repository: None) -> None:
    from mxcubecore_lims.config.migrate import migrate

    expected = _expected(name)
    directory = copy_case(name, tmp_path)
    before = snapshot(directory)
    changes = expected_changes(expected)
    top = beamline_file(expected)

    report = migrate(directory, to="yaml")

    assert report.ok, [str(p) for p in report.problems]
    converted = {f: str(Path(f).with_suffix(".yaml")) for f in changes}
    for file, new in converted.items():
        assert not (directory / file).exists(), f"{file} kept next to its YAML"
        assert (directory / f"{file}.bak").read_bytes() == before[file]
        assert (directory / new).is_file()
        assert directory / new in report.changed
        text = (directory / new).read_text(encoding="utf-8")
        document = yaml.safe_load(text)
        assert document["class"].startswith(changes[file]["target"])
        assert "loginType" not in (document.get("configuration") or {})
        assert set(document.get("configuration") or {}) == set(changes[file]["kept"])
        for key in changes[file]["unmapped"]:
            assert re.search(rf"#.*{re.escape(key)}", text), f"{new}: unmapped {key} not kept as a comment"
    # The beamline file follows: its entries name the YAML files.
    objects = yaml.safe_load((directory / top).read_text(encoding="utf-8"))["objects"]
    for file, new in converted.items():
        for role, value in objects.items():
            assert value != file, f"{top}: {role} still names {file}"
        if file in yaml.safe_load(before[top])["objects"].values():
            assert new in objects.values(), f"{top} does not name {new}: {objects}"
    if any(file in yaml.safe_load(before[top])["objects"].values() for file in converted):
        assert (directory / f"{top}.bak").read_bytes() == before[top]
    # Other files untouched.
    after = snapshot(directory)
    for file, content in before.items():
        if file not in changes and file != top:
            assert after[file] == content, f"{file} changed"

    check_loaded(directory, expected)

    again = migrate(directory, to="yaml")
    assert again.changed == [] and again.ok


@pytest.mark.parametrize("name", INVALID_CASES)
def test_invalid_result_blocks_and_writes_nothing(name: str, tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    expected = _expected(name)
    directory = copy_case(name, tmp_path)
    before = snapshot(directory)

    for dry_run in (True, False):
        report = migrate(directory, dry_run=dry_run)
        assert not report.ok
        assert report.problems
        assert any(expected["problem_key"] in str(p) for p in report.problems), [str(p) for p in report.problems]
        assert all(Path(p.file).name == "lims.xml" for p in report.problems if getattr(p, "file", None))
        assert report.backups == []
        assert snapshot(directory) == before


@pytest.mark.parametrize("name", INVALID_CASES)
def test_invalid_result_problems_name_the_users_file(name: str, tmp_path: Path) -> None:
    """A problem points at the file in the user's directory, not at a temporary working copy."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case(name, tmp_path)
    report = migrate(directory)
    for problem in report.problems:
        assert Path(problem.file).resolve() == directory / "lims.xml", str(problem)


# -------------------------------------------------------------- edge cases


def test_problems_elsewhere_do_not_block(tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("desy-p11", tmp_path)
    site_object = (directory / "p11_detector.xml").read_bytes()
    report = migrate(directory)
    assert report.ok
    assert [p.name for p in report.changed] == ["lims.xml"]
    assert (directory / "p11_detector.xml").read_bytes() == site_object
    assert not (directory / "p11_detector.xml.bak").exists()


def test_mockup_without_ws_root_points_at_the_emulator(tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("mockup-user", tmp_path)
    report = migrate(directory)
    assert report.ok
    assert property_elements(directory / "lims.xml")["ws_root"] == EMULATED_WS_ROOT
    info = findings_of(report, directory / "lims.xml", "info")
    assert info and any("ws_root" in f.message for f in info)


def test_existing_backup_is_not_overwritten(tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("no-logintype", tmp_path)
    original = (directory / "lims.xml").read_bytes()
    (directory / "lims.xml.bak").write_bytes(b"an older backup\n")
    (directory / "lims.xml.bak.1").write_bytes(b"another older backup\n")
    report = migrate(directory)
    assert report.ok
    assert directory / "lims.xml.bak.2" in report.backups
    assert (directory / "lims.xml.bak").read_bytes() == b"an older backup\n"
    assert (directory / "lims.xml.bak.1").read_bytes() == b"another older backup\n"
    assert (directory / "lims.xml.bak.2").read_bytes() == original


def test_one_file(tmp_path: Path) -> None:
    """Given one file, only that file is migrated (the LDAP object next to it is not)."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("esrf-id30a1-proposal", tmp_path)
    ldap = (directory / "ldapconnection.xml").read_bytes()
    report = migrate(directory / "lims.xml")
    assert report.ok, [str(p) for p in report.problems]
    assert report.changed == [directory / "lims.xml"]
    assert (directory / "ldapconnection.xml").read_bytes() == ldap
    assert legacy_class(directory / "lims.xml") == "mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims"


def test_lookup_directories_resolve_references(tmp_path: Path, clean_repository: None) -> None:
    """A session object kept in a shared directory is found through ``lookup``."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("stock-proposaltype", tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.move(str(directory / "session.xml"), shared / "session.xml")
    report = migrate(directory, lookup=[shared])
    assert report.ok, [str(p) for p in report.problems]
    assert [p.name for p in report.changed] == ["lims.xml"]
    graph = load_beamline([directory, shared], strict=True)
    try:
        lims = graph.beamline.get_object_by_role("lims")
        assert type(lims).__name__ == "ProposalTypeISPyBLims"
        assert lims.get_object_by_role("session") is graph.beamline.session
    finally:
        graph.close()


def test_other_files_in_another_encoding_are_left_alone(tmp_path: Path) -> None:
    """A site file in Latin-1 (not a LIMS object) neither stops the migration nor changes."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("no-logintype", tmp_path)
    motor = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        "<!-- Moteur de la table, réglé à la main -->\n"
        '<object class="SiteMotorNotImportable"><velocity>2</velocity></object>\n'
    ).encode("latin-1")
    (directory / "table_motor.xml").write_bytes(motor)
    report = migrate(directory)
    assert report.ok, [str(p) for p in report.problems]
    assert sorted(p.name for p in report.changed) == ["ldapconnection.xml", "lims.xml"]
    assert (directory / "table_motor.xml").read_bytes() == motor


def test_latin1_lims_file(tmp_path: Path) -> None:
    """A LIMS file declared ISO-8859-1 is migrated, its accented comment intact (or refused cleanly)."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("no-logintype", tmp_path)
    text = (directory / "lims.xml").read_text(encoding="utf-8")
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + text.replace(
        "<!-- no loginType: proposal login -->", "<!-- connexion par proposition (réglée à Grenoble) -->"
    )
    (directory / "lims.xml").write_bytes(text.encode("latin-1"))
    report = migrate(directory)
    assert report.ok, [str(p) for p in report.problems]
    root = etree.parse(str(directory / "lims.xml")).getroot()
    assert root.get("class") == "mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims"
    assert any("réglée à Grenoble" in (c.text or "") for c in root.iter(etree.Comment))


def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("soleil-proxima2a", tmp_path)
    assert b"\r\n" in (directory / "lims.xml").read_bytes()
    assert migrate(directory).ok
    data = (directory / "lims.xml").read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n"), "line endings mixed or changed to LF"


def test_unmapped_key_of_a_user_type_object_names_the_right_class(tmp_path: Path) -> None:
    """A ``<proxy>`` next to a ``proxy_address`` on a user-type object is commented as unused by UserTypeISPyBLims."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("esrf-user-ldap", tmp_path)
    path = directory / "lims.xml"
    text = path.read_text(encoding="utf-8").replace(
        "</object>",
        "  <proxy_address>http://proxy.esrf.example:3128</proxy_address>\n"
        "  <proxy><http>proxy.esrf.example:3128</http></proxy>\n"
        "</object>",
    )
    path.write_text(text, encoding="utf-8")
    report = migrate(directory)
    assert report.ok
    migrated = path.read_text(encoding="utf-8")
    proxy_comments = [c for c in comments(migrated) if "<proxy>" in c]
    assert proxy_comments and all("UserTypeISPyBLims" in c for c in proxy_comments), proxy_comments


def test_unreadable_path_raises(tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate
    from mxcubecore_lims.errors import LimsConfigError

    with pytest.raises(LimsConfigError):
        migrate(tmp_path / "missing")
    with pytest.raises(LimsConfigError):
        migrate(copy_case("no-logintype", tmp_path), to="json")


# ------------------------------------------------------------------- CLI


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def cli(*args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "mxcubecore_lims.cli", "migrate", *args])


def test_cli_prints_findings_and_exits_0(tmp_path: Path) -> None:
    directory = copy_case("with-proxy-and-extra-keys", tmp_path)
    original = (directory / "lims.xml").read_text(encoding="utf-8")
    result = cli(str(directory))
    assert result.returncode == 0, result.stdout + result.stderr
    for key in _expected("with-proxy-and-extra-keys")["unmapped"]:
        line = element_line(original, key)
        assert f"{directory / 'lims.xml'}:{line}: unmapped: " in result.stdout, result.stdout
    assert (directory / "lims.xml.bak").read_text(encoding="utf-8") == original
    assert legacy_class(directory / "lims.xml") == "mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims"


def test_cli_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    directory = copy_case("alba-xaloc", tmp_path)
    before = snapshot(directory)
    result = cli(str(directory), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--- a/lims.xml" in result.stdout and "+++ b/lims.xml" in result.stdout
    assert '+<object class="mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims">' in result.stdout
    assert ": lost: " in result.stdout
    assert snapshot(directory) == before


def test_cli_to_yaml(tmp_path: Path) -> None:
    directory = copy_case("esrf-user-ldap", tmp_path)
    result = cli(str(directory), "--to", "yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (directory / "lims.yaml").is_file() and not (directory / "lims.xml").exists()
    objects = yaml.safe_load((directory / "beamline.yaml").read_text(encoding="utf-8"))["objects"]
    assert objects["lims"] == "lims.yaml" and objects["ldapconnection"] == "ldapconnection.yaml"


def test_cli_invalid_result_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    directory = copy_case("invalid-read-timeout", tmp_path)
    before = snapshot(directory)
    result = cli(str(directory))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "read_timeout" in result.stdout + result.stderr
    assert snapshot(directory) == before


def test_cli_with_lookup(tmp_path: Path) -> None:
    directory = copy_case("stock-proposaltype", tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.move(str(directory / "session.xml"), shared / "session.xml")
    result = cli(str(directory), "--lookup", str(shared))
    assert result.returncode == 0, result.stdout + result.stderr


def test_tools_script_works_the_same(tmp_path: Path) -> None:
    directory = copy_case("with-proxy-and-extra-keys", tmp_path)
    twin = copy_case("with-proxy-and-extra-keys", tmp_path / "twin")
    by_cli = cli(str(twin), "--dry-run")
    by_script = run([sys.executable, str(TOOL_SCRIPT), str(directory), "--dry-run"])
    assert by_script.returncode == by_cli.returncode == 0, by_script.stdout + by_script.stderr
    assert by_script.stdout.replace(str(directory), "<dir>") == by_cli.stdout.replace(str(twin), "<dir>")
    by_script = run([sys.executable, str(TOOL_SCRIPT), str(directory)])
    assert by_script.returncode == 0, by_script.stdout + by_script.stderr
    assert legacy_class(directory / "lims.xml") == "mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims"
    bad = copy_case("invalid-missing-ws-root", tmp_path)
    assert run([sys.executable, str(TOOL_SCRIPT), str(bad)]).returncode == 1


def test_relatively_symlinked_lims_file_is_not_skipped(tmp_path: Path) -> None:
    """Sites share files through relative symlinks: such a LIMS file is migrated, or the run is not ok."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("no-logintype", tmp_path)
    common = tmp_path / "common"
    common.mkdir()
    shutil.move(str(directory / "lims.xml"), common / "lims.xml")
    (directory / "lims.xml").symlink_to(Path("..") / "common" / "lims.xml")
    report = migrate(directory)
    migrated = legacy_class(directory / "lims.xml").startswith("mxcubecore_lims.")
    assert migrated or not report.ok, "the symlinked LIMS file was skipped and the run reported ok"


def test_legacy_yaml_lims_object(tmp_path: Path, clean_repository: None) -> None:
    """A legacy LIMS object already in YAML: class, loginType and unmapped keys as for XML."""
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("stock-proposaltype", tmp_path)
    (directory / "lims.xml").unlink()
    lims_yaml = (
        "# MAX IV style user-type object, in YAML\n"
        "class: mxcubecore.HardwareObjects.UserTypeISPyBLims.UserTypeISPyBLims\n"
        "configuration:\n"
        "  ws_root: https://ispyb.maxiv.example/ispyb/ispyb-ws/ispybWS/\n"
        "  ws_username: biomax\n"
        "  ws_password: dummy-biomax\n"
        "  loginType: user\n"
        "  authServerType: ispyb\n"
        "  duo_api_url: https://duo.maxiv.example/api/v1/\n"
        "objects:\n"
        "  session: session\n"
    )
    (directory / "lims.yaml").write_text(lims_yaml, encoding="utf-8")
    beamline = directory / "beamline.yaml"
    beamline.write_text(
        beamline.read_text(encoding="utf-8").replace("lims: lims.xml", "lims: lims.yaml"), encoding="utf-8"
    )

    report = migrate(directory)

    assert report.ok, [str(p) for p in report.problems]
    assert report.changed == [directory / "lims.yaml"]
    assert (directory / "lims.yaml.bak").read_text(encoding="utf-8") == lims_yaml
    text = (directory / "lims.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert document["class"].startswith("mxcubecore_lims.HardwareObjects.UserTypeISPyBLims")
    assert set(document["configuration"]) == {"ws_root", "ws_username", "ws_password", "authServerType"}
    assert "# MAX IV style user-type object, in YAML" in text, "the file's own comment is lost"
    assert re.search(r"#.*duo_api_url", text), "the unmapped key's name is not in its comment"
    found = unmapped_findings(report, directory / "lims.yaml")
    assert [f.line for f in found] == [9]
    check_loaded(
        directory,
        {
            "target_class": "mxcubecore_lims.HardwareObjects.UserTypeISPyBLims",
            "kept": {"ws_username": "biomax", "authServerType": "ispyb"},
            "roles": {"session": "/session"},
        },
    )
    assert migrate(directory).changed == []


def test_a_yaml_ldap_object_without_domain_is_carried_over_with_a_warning(tmp_path: Path) -> None:
    from mxcubecore_lims.config.migrate import migrate

    directory = copy_case("ldap-no-domain", tmp_path)
    (directory / "ldapconnection.xml").unlink()
    (directory / "ldapconnection.yaml").write_text(
        "# the site's directory\nclass: mxcubecore.HardwareObjects.LdapAuthenticator.LdapAuthenticator\n"
        "configuration:\n  ldaphost: ldap.example.org\n",
        encoding="utf-8",
    )
    beamline = directory / "beamline.yaml"
    beamline.write_text(
        beamline.read_text(encoding="utf-8").replace("ldapconnection.xml", "ldapconnection.yaml"), encoding="utf-8"
    )
    report = migrate(directory)
    assert report.ok, [str(p) for p in report.problems]
    (warning,) = findings_of(report, directory / "ldapconnection.yaml", "warning")
    assert "dc=esrf,dc=fr" in warning.message and "base_dn" in warning.message
    migrated = yaml.safe_load((directory / "ldapconnection.yaml").read_text(encoding="utf-8"))
    assert migrated["class"] == f"{LDAP_CLASS}.LdapAuthenticator"
    assert migrated["configuration"] == {"ldaphost": "ldap.example.org", "ldapdomain": "esrf.fr"}
    graph = load_beamline([directory], strict=True)
    try:
        settings = loaded_by_file(graph, directory, "ldapconnection").config.to_settings()
        assert settings.base_dn == "dc=esrf,dc=fr"  # where mxcubecore's own searched
    finally:
        graph.close()
