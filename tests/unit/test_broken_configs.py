"""A corpus of broken configuration directories, each failing with file and line.

Every directory below ``tests/data/broken`` is one case: a small beamline
configuration with exactly one problem, and an ``expected.yaml`` saying which
error it must produce::

    error: ConfigCycleError        # class name in mxcubecore_lims.errors (exact type)
    file: a.xml                    # relative to the case directory; null if no file
    line: 7                        # 1-based; null if no line
    message_contains: [a.xml]      # optional fragments of str(error)
    message_matches: 'regex'       # optional, searched in str(error)
    field: name                    # optional ConfigValueError.field
    reference: /name               # optional ConfigFileNotFoundError.reference
    cycle: [a.xml, b.xml, a.xml]   # optional ConfigCycleError.cycle (file names)
    unset_env: [NAME]              # environment variables that must be unset
    checked: false                 # the problem is not one ``check`` can see

Each case is loaded with :func:`load_beamline` (strict, registering and not
registering) and checked with :func:`check_directory`, which must report the
same problem among its findings.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mxcubecore_lims import errors
from mxcubecore_lims.config.check import check_directory
from mxcubecore_lims.config.loader import load_beamline

CORPUS = Path(__file__).resolve().parents[1] / "data" / "broken"
CASES = sorted(path for path in CORPUS.iterdir() if path.is_dir())
EXPECTED_KEYS = {
    "error",
    "file",
    "line",
    "message_contains",
    "message_matches",
    "field",
    "reference",
    "cycle",
    "unset_env",
    "checked",
}


def read_expected(case: Path) -> dict[str, Any]:
    """Reads and validates a case's ``expected.yaml``."""
    expected = YAML(typ="safe", pure=True).load((case / "expected.yaml").read_text(encoding="utf-8"))
    assert isinstance(expected, dict), f"{case.name}: expected.yaml is not a mapping"
    unknown = set(expected) - EXPECTED_KEYS
    assert not unknown, f"{case.name}: unknown keys in expected.yaml: {sorted(unknown)}"
    for key in ("error", "file", "line"):
        assert key in expected, f"{case.name}: expected.yaml lacks '{key}'"
    error_class = getattr(errors, expected["error"], None)
    assert isinstance(error_class, type) and issubclass(error_class, errors.LimsConfigError), (
        f"{case.name}: {expected['error']!r} is not a configuration error of mxcubecore_lims.errors"
    )
    expected["error_class"] = error_class
    if expected["file"] is not None:
        assert (case / expected["file"]).is_file(), f"{case.name}: {expected['file']} does not exist"
    return expected


def expected_path(base: Path, relative: str | None) -> Path | None:
    return None if relative is None else (base / relative).resolve()


def actual_path(file: str | None) -> Path | None:
    return None if file is None else Path(file).resolve()


def describe(problem: BaseException) -> str:
    return f"{type(problem).__name__}({problem})"


@pytest.fixture(autouse=True)
def clean_repository():
    """Every test starts and ends with mxcubecore's repository uninitialised."""
    from mxcubecore import HardwareRepository as HWR

    HWR.uninit_hardware_repository()
    try:
        yield HWR
    finally:
        HWR.uninit_hardware_repository()
    assert HWR._instance is None and HWR.beamline is None


@pytest.fixture
def case_environment(monkeypatch):
    """Unsets the environment variables a case names."""

    def apply(expected: dict[str, Any]) -> None:
        for name in expected.get("unset_env", []):
            monkeypatch.delenv(name, raising=False)

    return apply


def test_corpus_is_large_enough():
    assert len(CASES) >= 24, [case.name for case in CASES]
    for case in CASES:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", case.name), case.name
        read_expected(case)


def test_corpus_covers_every_configuration_error():
    kinds = {read_expected(case)["error"] for case in CASES}
    wanted = {
        "ConfigSyntaxError",
        "ConfigFileNotFoundError",
        "ConfigAmbiguousFileError",
        "ConfigCycleError",
        "ConfigClassError",
        "ConfigInitError",
        "ConfigValueError",
        "ConfigUndeclaredPropertyError",
        "SecretReferenceError",
    }
    assert wanted <= kinds, sorted(wanted - kinds)


def assert_expected_problem(problem: BaseException, expected: dict[str, Any], base: Path) -> None:
    """Asserts type, file, line, message and attributes of one error."""
    assert type(problem) is expected["error_class"], describe(problem)
    assert actual_path(problem.file) == expected_path(base, expected["file"]), describe(problem)
    assert problem.line == expected["line"], describe(problem)
    message = str(problem)
    for fragment in expected.get("message_contains", []):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if "message_matches" in expected:
        assert re.search(expected["message_matches"], message), (
            f"{expected['message_matches']!r} does not match {message!r}"
        )
    if "field" in expected:
        assert problem.field == expected["field"], describe(problem)
    if "reference" in expected:
        assert problem.reference == expected["reference"], describe(problem)
    if "cycle" in expected:
        assert [actual_path(entry) for entry in problem.cycle] == [
            expected_path(base, entry) for entry in expected["cycle"]
        ], (problem.cycle, describe(problem))


@pytest.mark.parametrize("register", [True, False], ids=["register", "no-register"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_load_fails_with_file_and_line(case, register, clean_repository, case_environment):
    HWR = clean_repository
    expected = read_expected(case)
    case_environment(expected)

    with pytest.raises(errors.LimsConfigError) as caught:
        load_beamline(case, strict=True, register=register)

    assert_expected_problem(caught.value, expected, case)
    # A failed load leaves nothing registered (the loader's own clean-up).
    assert HWR._instance is None, "a failed load left mxcubecore's repository installed"
    assert HWR.beamline is None, "a failed load left HWR.beamline set"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_check_reports_the_problem(case, tmp_path, clean_repository, case_environment):
    HWR = clean_repository
    expected = read_expected(case)
    case_environment(expected)
    # Check a copy without expected.yaml, which is no configuration file.
    copy = tmp_path / case.name
    shutil.copytree(case, copy, ignore=shutil.ignore_patterns("expected.yaml"))

    problems = check_directory(copy)

    assert HWR._instance is None and HWR.beamline is None, "check registered a beamline"
    assert all(isinstance(problem, errors.LimsConfigError) for problem in problems)
    found = [(type(problem), actual_path(problem.file), problem.line) for problem in problems]
    wanted = (expected["error_class"], expected_path(copy, expected["file"]), expected["line"])
    if expected.get("checked", True):
        assert wanted in found, "\n".join(describe(problem) for problem in problems) or "no problems"
        match = problems[found.index(wanted)]
        assert_expected_problem(match, expected, copy)
    else:
        # check calls no init(): the problem is out of its reach, and nothing
        # else may be reported for this otherwise valid directory.
        assert problems == [], "\n".join(describe(problem) for problem in problems)
