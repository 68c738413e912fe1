"""pytest plugin shipped with mxcubecore-lims (fixtures for emulated LIMS servers).

Registered through the ``pytest11`` entry point, so every test session of a
project that installs mxcubecore-lims has these fixtures without importing
anything.

LDAP fixtures (a real OpenLDAP slapd, see :mod:`mxcubecore_lims.testing.slapd`):

* ``slapd_server`` (session): plain ``ldap://`` server seeded with
  :data:`~mxcubecore_lims.testing.ldap_seed.DEFAULT_SEED`. Shared by the whole
  session: read from it, do not change it.
* ``slapd_tls_server`` (session): the same, plus ``ldaps://`` and StartTLS
  with a throw-away CA (``ca_file``) and an unrelated CA (``other_ca_file``).
* ``slapd_factory`` (function): ``slapd_factory(**kwargs)`` starts a private
  :class:`~mxcubecore_lims.testing.slapd.SlapdServer` (keyword arguments as
  its constructor) for tests that stop, restart or change it; all are closed
  after the test.

ISPyB fixtures (the emulated ISPyB, see :mod:`mxcubecore_lims.testing.ispyb`):

* ``ispyb_server`` (function): the three SOAP services on an ephemeral
  loopback port, an in-memory database seeded with the default fixture;
  ``.root`` is the ``ws_root``, ``.store.rows(table)`` reads back.
* ``ispyb_server_factory`` (function): ``ispyb_server_factory(**kwargs)``
  starts more (a database file, another fixture); all closed after the test.

ICAT fixtures (the emulated ICAT, see :mod:`mxcubecore_lims.testing.icat`):

* ``icat_server`` (function): the ICAT SOAP API on an ephemeral loopback
  port, an in-memory catalogue seeded with the default fixture (facility
  ESRF, beamline ID-DEMO); ``.url`` for python-icat, ``.store`` reads back.
* ``icat_server_factory`` (function): ``icat_server_factory(**kwargs)``
  starts more; all closed after the test.

Browser fixtures (a real headless Chromium, see :mod:`mxcubecore_lims.testing.browser`):

* ``chromium`` (function): a Selenium ``WebDriver`` on a blank page, 1280x1600,
  no network beyond loopback; quit after the test.
* ``chromium_factory`` (function): ``chromium_factory(**kwargs)`` starts more
  (keyword arguments as :func:`~mxcubecore_lims.testing.browser.start_chromium`,
  e.g. ``javascript=False``); all quit after the test.
* ``artefact_dir`` (session): where screenshots go, ``$MXCUBECORE_LIMS_ARTEFACTS``
  or ``<rootdir>/test-artefacts/``. A failing test's browsers are screenshot there.

Broker fixtures (a real ActiveMQ 5 on STOMP, see :mod:`mxcubecore_lims.testing.activemq`):

* ``activemq_broker`` (session; a JVM takes seconds to start): user ``mxcube``/
  ``broker-pw``; do not stop it: use a fresh ``activemq_queue`` (function) per test.
* ``activemq_factory`` (function): ``activemq_factory(users=..., openwire=True)``
  starts private brokers, to restart or kill; all closed after the test.

When slapd (or Chromium, chromedriver, Selenium, ActiveMQ, stomp.py) is not installed the fixtures
skip the test, or fail it when the ``CI`` environment variable is set (so CI
never goes green by skipping).
When a test using a server fails, the report gets a section with slapd's (ActiveMQ's) log
for that test, and the server's run directory is kept and named there.
"""

from __future__ import annotations

import importlib.util
import os
import re
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from mxcubecore_lims.testing.activemq import ActiveMqBroker
from mxcubecore_lims.testing.activemq.fixtures import (
    ActiveMqFactory,
    broker_log_marks,
    broker_log_sections,
    require_activemq,
    unique_queue,
)
from mxcubecore_lims.testing.browser import BrowserNotFoundError, locate_chromium, save_screenshot, start_chromium
from mxcubecore_lims.testing.certificates import OpenSslNotFoundError, find_openssl
from mxcubecore_lims.testing.slapd import SlapdError, SlapdNotFoundError, SlapdServer, find_slapd

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

__all__ = [
    "ENV_ARTEFACTS",
    "ActiveMqFactory",
    "ChromiumFactory",
    "SlapdFactory",
    "activemq_broker",
    "activemq_factory",
    "activemq_queue",
    "artefact_dir",
    "chromium",
    "chromium_factory",
    "icat_server",
    "icat_server_factory",
    "is_ci",
    "ispyb_server",
    "ispyb_server_factory",
    "require_activemq",
    "require_chromium",
    "require_openssl",
    "require_slapd",
    "skip_or_fail",
    "slapd_factory",
    "slapd_server",
    "slapd_tls_server",
]

#: Environment variable naming the directory for screenshots and other test artefacts.
ENV_ARTEFACTS = "MXCUBECORE_LIMS_ARTEFACTS"

# Values of CI that mean "not CI" (people do write CI=0 or CI=false).
_NOT_CI = {"", "0", "false", "no", "off"}

# Servers the fixtures started, to attach their logs to failing reports.
_servers: weakref.WeakSet[SlapdServer] = weakref.WeakSet()
_log_marks = pytest.StashKey[dict[int, int]]()


def is_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Tells whether we run under continuous integration (``CI`` is set and true)."""
    environ = os.environ if environ is None else environ
    return environ.get("CI", "").strip().lower() not in _NOT_CI


def skip_or_fail(reason: str, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Skips the test, or fails it under CI, for a missing prerequisite.

    Args:
        reason: What is missing and how to get it.
        environ: The environment to read ``CI`` from (default ``os.environ``).

    Raises:
        pytest.fail.Exception: Under CI.
        pytest.skip.Exception: Otherwise.
    """
    if is_ci(environ):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def require_slapd(slapd_path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Returns the slapd binary, or skips/fails (see :func:`skip_or_fail`).

    Args:
        slapd_path: An explicit binary; else ``MXCUBECORE_LIMS_SLAPD`` or the
            usual places.
        environ: The environment (default ``os.environ``).
    """
    try:
        return find_slapd(slapd_path, environ)
    except SlapdNotFoundError as exc:
        skip_or_fail(str(exc), environ)


def require_openssl(environ: Mapping[str, str] | None = None) -> Path:
    """Returns the openssl binary, or skips/fails (see :func:`skip_or_fail`)."""
    try:
        return find_openssl()
    except OpenSslNotFoundError as exc:
        skip_or_fail(str(exc), environ)


def require_chromium(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """Returns Chromium and chromedriver, or skips/fails (see :func:`skip_or_fail`).

    Selenium must be importable too.

    Args:
        environ: The environment (default ``os.environ``): ``PATH``,
            ``MXCUBECORE_LIMS_CHROMIUM``, ``MXCUBECORE_LIMS_CHROMEDRIVER``, ``CI``.
    """
    try:
        binaries = locate_chromium(environ)
    except BrowserNotFoundError as exc:
        skip_or_fail(str(exc), environ)
    if importlib.util.find_spec("selenium") is None:
        skip_or_fail("Selenium is not installed: pip install -e '.[test]'", environ)
    return binaries


@pytest.fixture(scope="session")
def activemq_broker() -> Iterator[ActiveMqBroker]:
    """A session-wide ActiveMQ broker (STOMP, user ``mxcube``/``broker-pw``); never stop or kill it."""
    factory = ActiveMqFactory()
    yield factory()
    factory.close()


@pytest.fixture
def activemq_queue(request: pytest.FixtureRequest) -> str:
    """A STOMP destination of this test's own, ``/queue/test.<test name>.<random>``."""
    return unique_queue(request.node.name)


@pytest.fixture
def activemq_factory() -> Iterator[ActiveMqFactory]:
    """Starts private brokers for this test: ``activemq_factory(users={...}, openwire=True, ...)``."""
    factory = ActiveMqFactory()
    yield factory
    factory.close()


def _start(**kwargs: Any) -> SlapdServer:
    """Creates and starts a server after checking its prerequisites."""
    slapd = require_slapd(kwargs.pop("slapd_path", None))
    if kwargs.get("tls"):
        require_openssl()
    server = SlapdServer(slapd_path=slapd, **kwargs)
    _servers.add(server)
    try:
        server.start()
    except SlapdNotFoundError as exc:
        # slapd is there but its schemas are not: still an installation gap.
        server.close()
        skip_or_fail(str(exc))
    except BaseException:
        # The error message carries the log; keep the directory as well.
        server.close(keep_directory=True)
        raise
    return server


class SlapdFactory:
    """Starts private servers for one test; the ``slapd_factory`` fixture.

    Attributes:
        servers: Every server started, in order.
    """

    def __init__(self) -> None:
        self.servers: list[SlapdServer] = []

    def __call__(self, **kwargs: Any) -> SlapdServer:
        """Starts a server; keyword arguments as :class:`SlapdServer`'s."""
        server = _start(**kwargs)
        self.servers.append(server)
        return server

    def close(self) -> None:
        """Closes every server (their ``keep_directory`` flags decide the rest)."""
        for server in self.servers:
            server.close()


@pytest.fixture(scope="session")
def slapd_server() -> Iterator[SlapdServer]:
    """A session-wide slapd seeded with DEFAULT_SEED, on ``ldap://`` only."""
    server = _start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def slapd_tls_server() -> Iterator[SlapdServer]:
    """A session-wide slapd with ``ldaps://``, StartTLS and DEFAULT_SEED."""
    server = _start(tls=True)
    yield server
    server.close()


@pytest.fixture
def slapd_factory() -> Iterator[Callable[..., SlapdServer]]:
    """Starts private servers for this test: ``slapd_factory(**kwargs)``."""
    factory = SlapdFactory()
    yield factory
    factory.close()


# --------------------------------------------------------------------------
# logs in failure reports


def _servers_of(item: pytest.Item) -> list[SlapdServer]:
    """Returns the servers a test uses, through any of its fixtures."""
    found: list[SlapdServer] = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, SlapdServer):
            found.append(value)
        elif isinstance(value, SlapdFactory):
            found.extend(value.servers)
    # A server can be reached through two fixtures; report it once.
    return list({id(server): server for server in found}.values())


def _where(server: SlapdServer) -> str:
    """Returns the server's URI, or a placeholder before it had a port."""
    try:
        return server.uri
    except SlapdError:
        return "(not started)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Notes where each live server's log stands before the test sets up."""
    item.stash[_log_marks] = {**{id(server): server.log_size() for server in _servers}, **broker_log_marks()}
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Adds slapd's and ActiveMQ's logs and browser screenshots to a failing test's report."""
    report: pytest.TestReport = yield
    if report.failed and report.when == "call":
        _attach_screenshots(item, report)
    if report.failed:
        marks = item.stash.get(_log_marks, {})
        for server in _servers_of(item):
            # Keep the run directory for a post-mortem; close() respects this.
            server.keep_directory = True
            since = marks.get(id(server), 0)
            title = f"slapd log {_where(server)} ({report.when})"
            body = f"run directory (kept): {server.run_dir}\n{server.log_text(since)}"
            report.sections.append((title, body))
        report.sections.extend(broker_log_sections(item, marks, report.when))
    return report


# --------------------------------------------------------------------------
# emulated ISPyB (mxcubecore_lims.testing.ispyb)


class EmulatorFactory:
    """Starts private emulated servers for one test (``ispyb_server_factory``, ``icat_server_factory``).

    Args:
        create: Builds a server from keyword arguments (imported lazily: the
            plugin loads in every test session).

    Attributes:
        servers: Every server created, in order.
    """

    def __init__(self, create: Callable[..., Any]) -> None:
        self.create = create
        self.servers: list[Any] = []

    def __call__(self, **kwargs: Any) -> Any:
        """Creates and starts a server; keyword arguments as the server class's."""
        server = self.create(**kwargs)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        """Stops every server and closes its state."""
        for server in self.servers:
            server.close()


def _emulated_ispyb(**kwargs: Any) -> Any:
    from mxcubecore_lims.testing.ispyb import EmulatedIspyb

    return EmulatedIspyb(**kwargs)


def _emulated_icat(**kwargs: Any) -> Any:
    from mxcubecore_lims.testing.icat import EmulatedIcat

    return EmulatedIcat(**kwargs)


@pytest.fixture
def ispyb_server_factory() -> Iterator[EmulatorFactory]:
    """``ispyb_server_factory(db_path=..., fixture=..., username=..., password=...)``."""
    factory = EmulatorFactory(_emulated_ispyb)
    yield factory
    factory.close()


@pytest.fixture
def ispyb_server(ispyb_server_factory: EmulatorFactory) -> Any:
    """An emulated ISPyB server: in-memory database, default fixture (ID-DEMO).

    Web-service credentials ``mxcube``/``ispyb-password``, and the CRIMS account
    ``crims``/``crims-password``; ``ispyb_server.root`` is the ``ws_root``;
    ``ispyb_server.store.rows(table)`` reads the state.
    """
    return ispyb_server_factory()


# --------------------------------------------------------------------------
# emulated ICAT (mxcubecore_lims.testing.icat)


@pytest.fixture
def icat_server_factory() -> Iterator[EmulatorFactory]:
    """``icat_server_factory(db_path=..., fixture=..., session_minutes=...)``."""
    factory = EmulatorFactory(_emulated_icat)
    yield factory
    factory.close()


@pytest.fixture
def icat_server(icat_server_factory: EmulatorFactory) -> Any:
    """An emulated ICAT server: in-memory catalogue, default fixture (ID-DEMO).

    Users log in with plugin ``simple`` (``alice``/``alice-pw``, ``staff``/
    ``staff-pw``, ...); ``icat_server.url`` is python-icat's URL.
    """
    return icat_server_factory()


# --------------------------------------------------------------------------
# a real headless Chromium (mxcubecore_lims.testing.browser)


class ChromiumFactory:
    """Starts browsers for one test; the ``chromium_factory`` fixture.

    Args:
        tmp_dir: Where each browser's profile and ``chromedriver.log`` go.

    Attributes:
        drivers: Every browser started, in order.
    """

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.drivers: list[WebDriver] = []

    def __call__(self, **kwargs: Any) -> WebDriver:
        """Starts a browser; keyword arguments as :func:`start_chromium`'s."""
        binaries = require_chromium()
        driver = start_chromium(self.tmp_dir, binaries=binaries, **kwargs)
        self.drivers.append(driver)
        return driver

    def close(self) -> None:
        """Quits every browser."""
        for driver in self.drivers:
            driver.quit()


def _artefact_root(config: pytest.Config) -> Path:
    """The artefact directory (created): ``$MXCUBECORE_LIMS_ARTEFACTS`` or ``<rootdir>/test-artefacts``."""
    configured = os.environ.get(ENV_ARTEFACTS)
    path = Path(configured) if configured else config.rootpath / "test-artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def artefact_dir(request: pytest.FixtureRequest) -> Path:
    """Where tests put screenshots: ``$MXCUBECORE_LIMS_ARTEFACTS`` or ``<rootdir>/test-artefacts/``."""
    return _artefact_root(request.config)


@pytest.fixture
def chromium_factory(tmp_path: Path) -> Iterator[ChromiumFactory]:
    """Starts browsers for this test: ``chromium_factory(javascript=False, ...)``."""
    factory = ChromiumFactory(tmp_path / "browser")
    yield factory
    factory.close()


@pytest.fixture
def chromium(chromium_factory: ChromiumFactory) -> WebDriver:
    """A headless Chromium on a blank page (1280x1600, loopback and ``file://`` only)."""
    return chromium_factory()


def _attach_screenshots(item: pytest.Item, report: pytest.TestReport) -> None:
    """Saves a screenshot of each browser of a failing test and names the files in the report."""
    factories = [value for value in getattr(item, "funcargs", {}).values() if isinstance(value, ChromiumFactory)]
    drivers = [driver for factory in factories for driver in factory.drivers]
    if not drivers:
        return
    stem = re.sub(r"[^\w.-]+", "_", item.nodeid).strip("_")
    lines = []
    for number, driver in enumerate(drivers, start=1):
        path = _artefact_root(item.config) / f"{stem}-failure-{number}.png"
        try:
            lines.append(str(save_screenshot(driver, path)))
        except Exception as exc:  # the test's own failure must stay the one reported
            lines.append(f"{path}: no screenshot ({type(exc).__name__}: {exc})")
    logs = ", ".join(str(factory.tmp_dir / "chromium-*" / "chromedriver.log") for factory in factories)
    report.sections.append(("browser screenshots", "\n".join([*lines, f"logs: {logs}"])))
