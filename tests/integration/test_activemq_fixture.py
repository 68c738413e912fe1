"""The shipped ActiveMQ fixtures: a real broker, spoken to with stomp.py.

These tests pin down what a STOMP client of the broker can rely on: receipts
for persistent sends, individual acknowledgement, redelivery of what a
subscriber did not acknowledge, persistence across a clean restart and a
SIGKILL, dead letters, and a refused CONNECT for a wrong password. They also
check the fixtures themselves: missing ActiveMQ skips (fails under CI), a
failed start carries the broker's log, a failing test's report shows it.

The suite's conftest monkey-patches sockets with gevent but keeps real
threads. stomp.py connects in the caller's thread and reads in a thread of
its own, and a gevent socket cannot be used from a thread other than the one
that made it ("Cannot switch to a different thread"), so these tests give
stomp.py's transport the standard library's sockets (``stdlib_sockets``).
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gevent import monkey

from mxcubecore_lims.testing.activemq import (
    ENV_ACTIVEMQ_HOME,
    ActiveMqBroker,
    ActiveMqError,
    ActiveMqNotFoundError,
    ActiveMqStartError,
    find_activemq,
    locate_activemq,
    stomp_connect,
)
from mxcubecore_lims.testing.activemq import installation as installation_module
from mxcubecore_lims.testing.pytest_plugin import ActiveMqFactory, is_ci, require_activemq

try:
    import stomp
    import stomp.transport
    from stomp.exception import ConnectFailedException
except ImportError:  # the "broker" extra is not installed
    if is_ci():
        raise
    pytest.skip("stomp.py is not installed: pip install -e '.[broker]'", allow_module_level=True)

pytestmark = pytest.mark.integration

WAIT = 20.0  # seconds for anything the broker should do at once (a busy machine is slow)
QUIET = 1.5  # seconds of silence that mean "nothing more comes"


# --------------------------------------------------------------------------
# a small stomp.py client


def _stdlib_create_connection(
    address: tuple[str, int], timeout: float | None = None, source_address: Any = None
) -> socket.socket:
    """``socket.create_connection`` with the standard library's socket class, whatever gevent patched."""
    real_socket = monkey.get_original("socket", "socket")
    connection = real_socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        if source_address:
            connection.bind(source_address)
        connection.connect(address)
    except OSError:
        connection.close()
        raise
    return connection


@pytest.fixture(autouse=True)
def stdlib_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes stomp.py's transport open standard-library sockets (see the module docstring)."""
    module = types.ModuleType("socket")
    vars(module).update({**vars(socket), "create_connection": _stdlib_create_connection})
    monkeypatch.setattr(stomp.transport, "socket", module)


class Inbox(stomp.ConnectionListener):
    """What one connection receives, for the test to wait on."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self.receipts: queue.Queue[str] = queue.Queue()
        self.errors: list[Any] = []

    def on_message(self, frame: Any) -> None:
        self.messages.put(frame)

    def on_receipt(self, frame: Any) -> None:
        self.receipts.put(frame.headers["receipt-id"])

    def on_error(self, frame: Any) -> None:
        self.errors.append(frame)

    def next_message(self) -> Any:
        try:
            return self.messages.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no message within {WAIT:g} s")

    def rest(self) -> list[Any]:
        """Everything that arrives until the connection has been quiet for QUIET seconds."""
        frames = []
        while True:
            try:
                frames.append(self.messages.get(timeout=QUIET))
            except queue.Empty:
                return frames

    def wait_for_receipt(self, receipt: str) -> None:
        try:
            assert self.receipts.get(timeout=WAIT) == receipt
        except queue.Empty:
            pytest.fail(f"no receipt {receipt} within {WAIT:g} s")


class Client:
    """One STOMP 1.2 connection and its inbox."""

    def __init__(self, broker: ActiveMqBroker, username: str | None, password: str | None) -> None:
        self.inbox = Inbox()
        self.connection = stomp.Connection12(broker.host_and_ports, heartbeats=(0, 0), reconnect_attempts_max=1)
        self.connection.set_listener("inbox", self.inbox)
        self.connection.connect(username, password, wait=True)

    def send(self, destination: str, body: str, persistent: bool = True, **headers: str) -> None:
        """Sends and waits for the broker's receipt (for a persistent message: it is on disk)."""
        receipt = uuid.uuid4().hex
        headers["persistent"] = "true" if persistent else "false"
        self.connection.send(destination, body, headers=headers, receipt=receipt)
        self.inbox.wait_for_receipt(receipt)

    def subscribe(self, destination: str, ack: str = "client-individual", **headers: str) -> None:
        self.connection.subscribe(destination, id=uuid.uuid4().hex, ack=ack, headers=headers)

    def ack(self, frame: Any) -> None:
        receipt = uuid.uuid4().hex
        self.connection.ack(frame.headers["ack"], receipt=receipt)
        self.inbox.wait_for_receipt(receipt)

    def nack(self, frame: Any) -> None:
        receipt = uuid.uuid4().hex
        self.connection.nack(frame.headers["ack"], receipt=receipt)
        self.inbox.wait_for_receipt(receipt)

    def close(self) -> None:
        if self.connection.is_connected():
            self.connection.disconnect()


@pytest.fixture
def client() -> Iterator[Callable[..., Client]]:
    """``client(broker, username=..., password=...)``: a connected client (default: the broker's first user)."""
    opened: list[Client] = []

    def connect(broker: ActiveMqBroker, username: str | None = None, password: str | None = None) -> Client:
        opened.append(Client(broker, username or broker.username, password or broker.password))
        return opened[-1]

    yield connect
    for each in opened:
        each.close()


def bodies(frames: list[Any]) -> list[str]:
    return [frame.body for frame in frames]


# --------------------------------------------------------------------------
# messaging on the session broker


def test_persistent_sends_get_receipts_and_acks_are_individual(
    activemq_broker: ActiveMqBroker, activemq_queue: str, client: Callable[..., Client]
) -> None:
    producer = client(activemq_broker)
    for number in range(1, 4):
        producer.send(activemq_queue, f"collection {number}")
    consumer = client(activemq_broker)
    consumer.subscribe(activemq_queue)
    frames = [consumer.inbox.next_message() for _ in range(3)]
    assert bodies(frames) == ["collection 1", "collection 2", "collection 3"]
    assert {frame.headers["persistent"] for frame in frames} == {"true"}
    # client-individual: acking the later two leaves the first one unacknowledged.
    consumer.ack(frames[1])
    consumer.ack(frames[2])
    assert consumer.inbox.rest() == []
    consumer.close()
    again = client(activemq_broker)
    again.subscribe(activemq_queue)
    assert bodies(again.inbox.rest()) == ["collection 1"]


def test_unacked_message_goes_to_another_subscriber_after_the_first_disconnects(
    activemq_broker: ActiveMqBroker, activemq_queue: str, client: Callable[..., Client]
) -> None:
    first = client(activemq_broker)
    first.subscribe(activemq_queue, **{"activemq.prefetchSize": "1"})
    client(activemq_broker).send(activemq_queue, "dataset 42")
    held = first.inbox.next_message()
    second = client(activemq_broker)
    second.subscribe(activemq_queue)
    assert second.inbox.rest() == []  # the first subscriber still holds it
    first.close()
    redelivered = second.inbox.next_message()
    assert redelivered.body == "dataset 42"
    assert redelivered.headers["message-id"] == held.headers["message-id"]
    assert redelivered.headers.get("redelivered") == "true"
    second.ack(redelivered)
    second.close()
    third = client(activemq_broker)
    third.subscribe(activemq_queue)
    assert third.inbox.rest() == []


def test_nacked_persistent_message_goes_to_the_shared_dead_letter_queue(
    activemq_broker: ActiveMqBroker, activemq_queue: str, client: Callable[..., Client]
) -> None:
    mark = uuid.uuid4().hex
    consumer = client(activemq_broker)
    consumer.subscribe(activemq_queue)
    consumer.send(activemq_queue, "bad sample", test_mark=mark)
    consumer.nack(consumer.inbox.next_message())
    assert consumer.inbox.rest() == []  # not redelivered here
    dead = client(activemq_broker)
    dead.subscribe("/queue/ActiveMQ.DLQ", ack="auto", selector=f"test_mark = '{mark}'")
    (letter,) = dead.inbox.rest()
    assert letter.body == "bad sample"
    assert letter.headers["original-destination"] == activemq_queue


def test_wrong_password_is_refused_at_connect_with_a_clear_error(
    activemq_broker: ActiveMqBroker, client: Callable[..., Client]
) -> None:
    assert (activemq_broker.username, activemq_broker.password) == ("mxcube", "broker-pw")
    for username, password in [("mxcube", "wrong-pw"), ("nobody", "broker-pw")]:
        refused = Inbox()
        connection = stomp.Connection12(activemq_broker.host_and_ports, reconnect_attempts_max=1)
        connection.set_listener("inbox", refused)
        with pytest.raises(ConnectFailedException):
            connection.connect(username, password, wait=True)
        (error,) = refused.errors
        assert error.headers["message"] == f"User name [{username}] or password is invalid."
    # Without credentials (no anonymous access), and as the fixture's own raw frame sees it.
    anonymous = stomp_connect(activemq_broker.host, activemq_broker.port)
    assert anonymous.command == "ERROR" and "password is invalid" in anonymous.headers["message"]
    assert stomp_connect(activemq_broker.host, activemq_broker.port, "mxcube", "broker-pw").connected
    client(activemq_broker)  # and the right password still works


def test_session_broker_speaks_stomp_only_on_loopback(activemq_broker: ActiveMqBroker) -> None:
    assert activemq_broker.stomp_url == f"stomp://127.0.0.1:{activemq_broker.port}"
    assert activemq_broker.host_and_ports == [("127.0.0.1", activemq_broker.port)]
    config = activemq_broker.config_file.read_text(encoding="utf-8")
    assert config.count("<transportConnector ") == 1
    assert 'useJmx="false"' in config and 'schedulerSupport="false"' in config
    assert "jetty" not in config.lower()
    with pytest.raises(ActiveMqError, match="without openwire"):
        _ = activemq_broker.openwire_port
    log = activemq_broker.log_text()
    assert "Connector stomp started" in log and "openwire" not in log.lower()
    assert activemq_broker.startup_seconds is not None and activemq_broker.startup_seconds < 90
    assert (activemq_broker.data_dir / "kahadb").is_dir()


# --------------------------------------------------------------------------
# private brokers: other users, restarts and crashes


def test_factory_brokers_have_their_own_users_and_optional_openwire(
    activemq_factory: ActiveMqFactory, client: Callable[..., Client]
) -> None:
    broker = activemq_factory(users={"alice": "alice-pw", "bob": "b:o${b}"}, openwire=True)
    assert (broker.username, broker.password) == ("alice", "alice-pw")
    client(broker)
    client(broker, "bob", "b:o${b}")  # a colon and a Spring placeholder, taken literally
    assert not stomp_connect(broker.host, broker.port, "mxcube", "broker-pw").connected
    assert broker.openwire_port != broker.port
    assert broker.openwire_url == f"tcp://127.0.0.1:{broker.openwire_port}"
    socket.create_connection((broker.host, broker.openwire_port), timeout=5).close()

    open_broker = activemq_factory(users=None)
    assert open_broker.username is None
    assert stomp_connect(open_broker.host, open_broker.port).connected
    assert activemq_factory.brokers == [broker, open_broker]


def test_persistent_messages_survive_a_restart_and_non_persistent_ones_do_not(
    activemq_factory: ActiveMqFactory, activemq_queue: str, client: Callable[..., Client]
) -> None:
    broker = activemq_factory()
    port, data_dir = broker.port, broker.data_dir
    producer = client(broker)
    producer.send(activemq_queue, "kept 1")
    producer.send(activemq_queue, "lost", persistent=False)
    producer.send(activemq_queue, "kept 2")
    pid = broker.pid
    broker.restart()
    assert broker.is_running and broker.pid != pid
    assert (broker.port, broker.data_dir) == (port, data_dir)
    consumer = client(broker)
    consumer.subscribe(activemq_queue, ack="auto")
    assert bodies(consumer.inbox.rest()) == ["kept 1", "kept 2"]
    assert "=== stopped (SIGTERM)" in broker.log_text() and broker.start_count == 2


def test_persistent_unacked_messages_survive_a_kill(
    activemq_factory: ActiveMqFactory, activemq_queue: str, client: Callable[..., Client]
) -> None:
    broker = activemq_factory()
    producer = client(broker)
    for number in range(1, 4):
        producer.send(activemq_queue, f"image {number}")
    consumer = client(broker)
    consumer.subscribe(activemq_queue, **{"activemq.prefetchSize": "1"})
    consumer.ack(consumer.inbox.next_message())  # image 1 is done
    assert consumer.inbox.next_message().body == "image 2"  # in hand, not acknowledged
    broker.kill()
    assert not broker.is_running and broker.pid is None
    assert "=== killed (SIGKILL)" in broker.log_text()
    broker.start()
    after = client(broker)
    after.subscribe(activemq_queue)
    assert bodies(after.inbox.rest()) == ["image 2", "image 3"]
    assert "unclean shutdown" in broker.log_text() or "Recovering" in broker.log_text()


# --------------------------------------------------------------------------
# start-up errors and missing installations


def test_a_port_in_use_fails_the_start_with_the_brokers_own_words() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = ActiveMqBroker(port=taken.getsockname()[1], ready_timeout=60)
        try:
            require_activemq()
            with pytest.raises(ActiveMqStartError, match="Address already in use") as caught:
                broker.start()
        finally:
            broker.close(keep_directory=True)
    error = caught.value
    assert error.returncode is not None and error.returncode != 0
    assert error.run_dir == broker.run_dir and error.run_dir is not None and error.run_dir.is_dir()
    assert "Failed to bind to server socket" in error.log
    assert error.target == broker.stomp_url
    shutil.rmtree(error.run_dir)


def test_users_that_stomp_cannot_send_are_refused_up_front() -> None:
    with pytest.raises(ActiveMqError, match="CR, LF or NUL"):
        ActiveMqBroker(users={"mxcube": "two\nlines"})
    with pytest.raises(ActiveMqError, match="empty"):
        ActiveMqBroker(users={"": "pw"})


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("true", pytest.fail.Exception), ("1", pytest.fail.Exception), (None, pytest.skip.Exception)],
)
def test_missing_activemq_skips_locally_and_fails_under_ci(ci: str | None, outcome: type[BaseException]) -> None:
    environ = {ENV_ACTIVEMQ_HOME: "/nonexistent", "PATH": os.environ.get("PATH", "")}
    if ci is not None:
        environ["CI"] = ci
    assert is_ci(environ) is (outcome is pytest.fail.Exception)
    with pytest.raises(outcome, match="/nonexistent"):
        require_activemq(environ=environ)


def test_locate_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = locate_activemq()
    assert find_activemq() == real.home and real.launcher.name == "activemq.jar"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "activemq.jar").write_bytes(b"")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "activemq-broker-5.18.3.jar").write_bytes(b"")  # upstream's versioned name
    monkeypatch.setattr(installation_module, "JAVA_PLACES", ())
    environ = {ENV_ACTIVEMQ_HOME: str(tmp_path), "PATH": str(tmp_path / "bin"), "JAVA_HOME": str(tmp_path)}
    with pytest.raises(ActiveMqNotFoundError) as caught:
        locate_activemq(environ)
    message = str(caught.value)
    assert f"ActiveMQ jars missing in {tmp_path}: lib/activemq-client.jar, lib/activemq-stomp.jar" in message
    assert "activemq-broker" not in message and "bin/activemq.jar" not in message
    assert "lib/optional/xbean-spring.jar" in message and "no Java runtime" in message
    assert "apt-get install activemq" in message and ENV_ACTIVEMQ_HOME in message
    assert isinstance(caught.value, FileNotFoundError)
    assert find_activemq(environ) is None
    with pytest.raises(ActiveMqNotFoundError, match="no ActiveMQ home directory at /nonexistent"):
        ActiveMqBroker(environ={ENV_ACTIVEMQ_HOME: "/nonexistent"}).start()


# --------------------------------------------------------------------------
# the fixtures as another project's test session sees them


@pytest.fixture
def outer_pytest(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs pytest on a test file in a child process, with extra environment."""

    def run(source: str, **env: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "test_child.py").write_text(textwrap.dedent(source), encoding="utf-8")
        environ = {k: v for k, v in os.environ.items() if k not in ("CI", ENV_ACTIVEMQ_HOME)}
        environ.update(env)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_child.py"],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    return run


USES_BROKER = """\
    def test_uses_broker(activemq_broker):
        assert activemq_broker.port
"""


def test_fixture_fails_under_ci_when_activemq_is_missing(
    outer_pytest: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = outer_pytest(USES_BROKER, CI="true", **{ENV_ACTIVEMQ_HOME: "/nonexistent"})
    assert result.returncode != 0, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert "/nonexistent" in result.stdout and "CI is set" in result.stdout
    local = outer_pytest(USES_BROKER, **{ENV_ACTIVEMQ_HOME: "/nonexistent"})
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout


def test_failing_test_report_shows_the_broker_log_and_keeps_the_directory(
    outer_pytest: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = outer_pytest(
        """\
        def test_fails(activemq_factory):
            broker = activemq_factory()
            print("RUN_DIR", broker.run_dir)
            assert False, "deliberate"
        """
    )
    assert result.returncode == 1, result.stdout
    assert "ActiveMQ log stomp://127.0.0.1:" in result.stdout
    assert "Apache ActiveMQ 5" in result.stdout and "run directory (kept)" in result.stdout
    run_dir = Path(result.stdout.split("RUN_DIR ", 1)[1].split()[0])
    assert (run_dir / "activemq.log").is_file() and (run_dir / "data" / "kahadb").is_dir()
    shutil.rmtree(run_dir)
