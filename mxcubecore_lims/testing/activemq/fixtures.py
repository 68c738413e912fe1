"""What the pytest plugin's broker fixtures are made of: the factory, queue names and logs for reports.

The plugin (:mod:`mxcubecore_lims.testing.pytest_plugin`) keeps thin fixture
wrappers; the bodies are here so that the plugin stays small.
"""

from __future__ import annotations

import importlib.util
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from mxcubecore_lims.testing.activemq.broker import ActiveMqBroker
from mxcubecore_lims.testing.activemq.errors import ActiveMqError, ActiveMqNotFoundError
from mxcubecore_lims.testing.activemq.installation import ActiveMqInstallation, locate_activemq

__all__ = ["ActiveMqFactory", "broker_log_marks", "broker_log_sections", "require_activemq", "unique_queue"]

# Brokers the fixtures started, to attach their logs to failing reports.
_live: weakref.WeakSet[ActiveMqBroker] = weakref.WeakSet()


def require_activemq(environ: Mapping[str, str] | None = None) -> ActiveMqInstallation:
    """Returns Java and ActiveMQ, or skips the test (fails it under CI); stomp.py must be importable too.

    The tests talk to the broker through stomp.py (the ``broker`` extra), as
    the browser fixtures need Selenium.

    Args:
        environ: The environment (default ``os.environ``):
            ``MXCUBECORE_LIMS_ACTIVEMQ_HOME``, ``JAVA_HOME``, ``PATH``, ``CI``.

    Raises:
        pytest.fail.Exception: Something is missing, under CI.
        pytest.skip.Exception: Something is missing, otherwise.
    """
    # The plugin imports this module; skip_or_fail is the plugin's own policy.
    from mxcubecore_lims.testing.pytest_plugin import skip_or_fail

    try:
        installation = locate_activemq(environ)
    except ActiveMqNotFoundError as exc:
        skip_or_fail(str(exc), environ)
    if importlib.util.find_spec("stomp") is None:
        skip_or_fail("stomp.py is not installed: pip install -e '.[broker]'", environ)
    return installation


class ActiveMqFactory:
    """Starts brokers for one test (or the session); the ``activemq_factory`` fixture.

    Args:
        require: Checks the prerequisites before each start, given the
            ``environ`` keyword (or ``None``); by default
            :func:`require_activemq`, which skips the test, or fails it under CI.

    Attributes:
        brokers: Every broker started, in order.
    """

    def __init__(self, require: Callable[[Mapping[str, str] | None], object] = require_activemq) -> None:
        self.require = require
        self.brokers: list[ActiveMqBroker] = []

    def __call__(self, **kwargs: Any) -> ActiveMqBroker:
        """Starts a broker; keyword arguments as :class:`ActiveMqBroker`'s (e.g. ``users={...}``)."""
        self.require(kwargs.get("environ"))
        broker = ActiveMqBroker(**kwargs)
        self.brokers.append(broker)
        _live.add(broker)
        try:
            broker.start()
        except BaseException:
            # The error message carries the log; keep the directory as well.
            broker.close(keep_directory=True)
            raise
        return broker

    def close(self) -> None:
        """Closes every broker (their ``keep_directory`` flags decide the rest)."""
        for broker in self.brokers:
            broker.close()


def unique_queue(test_name: str) -> str:
    """Returns a STOMP destination no other test uses: ``/queue/test.<name>.<random>``."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", test_name.rpartition("::")[2]).strip("_")[:60] or "test"
    return f"/queue/test.{name}.{uuid.uuid4().hex[:12]}"


def broker_log_marks() -> dict[int, int]:
    """Returns where each live broker's log stands, by ``id`` of the broker."""
    return {id(broker): broker.log_size() for broker in _live}


def _brokers_of(values: Iterable[object]) -> list[ActiveMqBroker]:
    """Returns the brokers among a test's fixture values, each once."""
    found: list[ActiveMqBroker] = []
    for value in values:
        if isinstance(value, ActiveMqBroker):
            found.append(value)
        elif isinstance(value, ActiveMqFactory):
            found.extend(value.brokers)
    return list({id(broker): broker for broker in found}.values())


def _where(broker: ActiveMqBroker) -> str:
    try:
        return broker.stomp_url
    except ActiveMqError:
        return "(not started)"


def broker_log_sections(item: pytest.Item, marks: Mapping[int, int], when: str) -> list[tuple[str, str]]:
    """Returns a report section per broker the failing test used: its log since ``marks``.

    Also keeps each broker's run directory for a post-mortem (``close()``
    respects ``keep_directory``).
    """
    sections = []
    for broker in _brokers_of(getattr(item, "funcargs", {}).values()):
        broker.keep_directory = True
        body = f"run directory (kept): {broker.run_dir}\n{broker.log_text(marks.get(id(broker), 0))}"
        sections.append((f"ActiveMQ log {_where(broker)} ({when})", body))
    return sections
