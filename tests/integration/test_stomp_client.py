"""Our STOMP 1.2 client (mxcubecore_lims.broker.stomp) against a real ActiveMQ.

What the broker route relies on: receipts, individual acknowledgement,
redelivery, prefetch, NACK to the dead-letter queue, transactions, refused
logins, unreachable brokers, a broker killed under a connection, heart-beats,
and the same client inside a gevent-patched process without blocking the hub.

The client uses no threads, so unlike test_activemq_fixture.py these tests
need no standard-library sockets: the suite's gevent-patched ones do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mxcubecore_lims.broker.stomp import StompConnection, StompMessage
from mxcubecore_lims.errors import (
    BrokerAuthenticationError,
    BrokerRefusedError,
    BrokerUnavailableError,
    LimsAuthenticationError,
    LimsConfigError,
    LimsUnavailableError,
)
from mxcubecore_lims.testing.activemq import ActiveMqBroker
from mxcubecore_lims.testing.pytest_plugin import ActiveMqFactory

pytestmark = pytest.mark.integration

WAIT = 20.0  # seconds for anything the broker should do at once (a busy machine is slow)
QUIET = 1.0  # seconds of silence that mean "nothing more comes"
DLQ = "/queue/ActiveMQ.DLQ"
PERSISTENT = {"persistent": "true"}

Connect = Callable[..., StompConnection]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(broker, username=..., password=..., **kwargs)``: a connected client, closed after the test."""
    opened: list[StompConnection] = []

    def open_one(
        broker: ActiveMqBroker, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> StompConnection:
        connection = StompConnection(
            [broker.stomp_url], username or broker.username, password or broker.password, **kwargs
        )
        opened.append(connection)
        connection.connect()
        return connection

    yield open_one
    for connection in opened:
        connection.close()


def next_message(connection: StompConnection) -> StompMessage:
    message = connection.receive(WAIT)
    if message is None:
        pytest.fail(f"no message within {WAIT:g} s")
    return message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------
# messaging on the session broker


def test_send_with_receipt_receive_and_ack_individually(
    activemq_broker: ActiveMqBroker, activemq_queue: str, connect: Connect
) -> None:
    producer = connect(activemq_broker)
    assert producer.connected and producer.url == activemq_broker.stomp_url
    odd = {"x-run": "C:\\data\\run:1\nline two", "x-name": "Grüße"}
    producer.send(activemq_queue, b"first\0binary", {**PERSISTENT, **odd})
    producer.send(activemq_queue, b"second", PERSISTENT)
    consumer = connect(activemq_broker)
    subscription = consumer.subscribe(activemq_queue, prefetch=None)
    first, second = next_message(consumer), next_message(consumer)
    assert (first.body, second.body) == (b"first\0binary", b"second")
    assert {key: first.headers[key] for key in odd} == odd  # escaping round-trips through the broker
    assert first.destination == activemq_queue and first.subscription == subscription
    assert first.headers["persistent"] == "true" and not first.redelivered
    assert first.ack_id and first.message_id and first.ack_id != second.ack_id
    consumer.ack(first)
    consumer.ack(second, receipt=True)
    assert consumer.receive(QUIET) is None
    consumer.disconnect()
    assert not consumer.connected and consumer.url is None
    consumer.disconnect()  # idempotent
    again = connect(activemq_broker)
    again.subscribe(activemq_queue)
    assert again.receive(QUIET) is None  # nothing redelivered


def test_unacked_message_is_redelivered_to_the_next_connection(
    activemq_broker: ActiveMqBroker, activemq_queue: str, connect: Connect
) -> None:
    first = connect(activemq_broker)
    first.subscribe(activemq_queue)
    first.send(activemq_queue, b"dataset 42", PERSISTENT)
    held = next_message(first)
    assert not held.redelivered
    first.close()  # without ack
    second = connect(activemq_broker)
    second.subscribe(activemq_queue)
    again = next_message(second)
    assert (again.body, again.message_id) == (b"dataset 42", held.message_id)
    assert again.redelivered and again.headers["redelivered"] == "true"
    second.ack(again, receipt=True)


def test_prefetch_one_keeps_the_second_message_for_another_consumer(
    activemq_broker: ActiveMqBroker, activemq_queue: str, connect: Connect
) -> None:
    first = connect(activemq_broker)
    first.subscribe(activemq_queue, prefetch=1)
    first.send(activemq_queue, b"one", PERSISTENT)
    first.send(activemq_queue, b"two", PERSISTENT)
    assert next_message(first).body == b"one"  # held, not acknowledged
    second = connect(activemq_broker)
    second.subscribe(activemq_queue, prefetch=1)
    assert next_message(second).body == b"two"
    assert first.receive(QUIET) is None


def test_nacked_persistent_message_lands_in_the_dead_letter_queue(
    activemq_broker: ActiveMqBroker, activemq_queue: str, connect: Connect
) -> None:
    mark = uuid.uuid4().hex
    consumer = connect(activemq_broker)
    consumer.subscribe(activemq_queue)
    consumer.send(activemq_queue, b"bad sample", {**PERSISTENT, "test_mark": mark})
    consumer.nack(next_message(consumer), receipt=True)
    assert consumer.receive(QUIET) is None  # not redelivered here
    dead = connect(activemq_broker)
    dead.subscribe(DLQ, headers={"selector": f"test_mark = '{mark}'"})
    letter = next_message(dead)
    assert letter.body == b"bad sample" and letter.headers["test_mark"] == mark
    assert letter.headers["original-destination"] == activemq_queue
    dead.ack(letter, receipt=True)
    assert dead.receive(QUIET) is None


@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_transaction_sends_and_acks_together(
    activemq_broker: ActiveMqBroker, activemq_queue: str, connect: Connect, outcome: str
) -> None:
    queue_a, queue_b = activemq_queue + ".a", activemq_queue + ".b"
    worker = connect(activemq_broker)
    worker.send(queue_a, b"input", PERSISTENT)
    worker.subscribe(queue_a)
    taken = next_message(worker)
    transaction = worker.begin()
    worker.send(queue_b, b"output", PERSISTENT, receipt=False, transaction=transaction)
    worker.ack(taken, transaction=transaction)
    watcher = connect(activemq_broker)
    watcher.subscribe(queue_b)
    assert watcher.receive(QUIET) is None  # not before the end of the transaction
    if outcome == "commit":
        worker.commit(transaction)
        assert next_message(watcher).body == b"output"
    else:
        worker.abort(transaction)
        assert watcher.receive(QUIET) is None
    worker.close()
    reader = connect(activemq_broker)
    reader.subscribe(queue_a)
    if outcome == "commit":
        assert reader.receive(QUIET) is None  # the ack counted
    else:
        again = next_message(reader)  # the ack was rolled back
        assert again.body == b"input" and again.message_id == taken.message_id and again.redelivered


def test_heart_beats_keep_an_idle_connection_open(
    activemq_broker: ActiveMqBroker, activemq_queue: str, connect: Connect
) -> None:
    connection = connect(activemq_broker, heartbeat=(300, 300))
    connection.subscribe(activemq_queue)
    # ActiveMQ closes a connection silent for longer than the interval it was promised.
    assert connection.receive(2.0) is None
    connection.send(activemq_queue, b"still here", PERSISTENT)
    assert next_message(connection).body == b"still here"


def test_an_error_frame_raises_refused_and_closes(activemq_broker: ActiveMqBroker, connect: Connect) -> None:
    connection = connect(activemq_broker)
    with pytest.raises(BrokerRefusedError) as caught:
        connection.subscribe("/queue/test.bad-selector", headers={"selector": "this is (not a selector"})
    assert caught.value.frame_message and caught.value.frame_message in str(caught.value)
    assert not connection.connected
    with pytest.raises(BrokerUnavailableError, match="not connected"):
        connection.send("/queue/test.never", b"x")


# --------------------------------------------------------------------------
# refused and unreachable brokers


def test_wrong_password_raises_authentication_error_without_the_password(activemq_broker: ActiveMqBroker) -> None:
    password = "wrong-pw-Zq7"
    connection = StompConnection([activemq_broker.stomp_url], activemq_broker.username, password)
    assert password not in repr(connection)
    with pytest.raises(BrokerAuthenticationError) as caught:
        connection.connect()
    message = str(caught.value)
    assert isinstance(caught.value, LimsAuthenticationError)
    assert "User name [mxcube] or password is invalid." in message and activemq_broker.stomp_url in message
    assert password not in message and password not in repr(caught.value.args)
    assert not connection.connected


def test_nothing_listening_raises_unavailable_naming_the_url() -> None:
    url = f"stomp://127.0.0.1:{free_port()}"
    connection = StompConnection([url], "mxcube", "pw", connect_timeout=3.0)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as caught:
        connection.connect()
    assert time.monotonic() - started < 3.0
    assert isinstance(caught.value, LimsUnavailableError) and caught.value.target == url and url in str(caught.value)


def test_a_silent_server_times_out_and_the_next_url_is_tried(activemq_broker: ActiveMqBroker) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        dead = f"stomp://127.0.0.1:{silent.getsockname()[1]}"
        alone = StompConnection([dead], "mxcube", "pw", connect_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match="no answer to CONNECT within 1 s"):
            alone.connect()
        assert 0.9 < time.monotonic() - started < 5
        failover = StompConnection(
            [dead, f"tcp://127.0.0.1:{activemq_broker.port}"],
            activemq_broker.username,
            activemq_broker.password,
            connect_timeout=1.0,
        )
        with failover:
            assert failover.url == f"tcp://127.0.0.1:{activemq_broker.port}"
        assert not failover.connected


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:61613", "stomp://127.0.0.1", "stomp://:61613", "stomp://u:secret@127.0.0.1:61613", "nonsense"],
)
def test_urls_that_are_not_understood_are_configuration_errors(url: str) -> None:
    with pytest.raises(LimsConfigError) as caught:
        StompConnection([url], None, None)
    assert isinstance(caught.value, ValueError) and "secret" not in str(caught.value)


def test_urls_of_every_scheme_are_accepted() -> None:
    urls = ["stomp://h:1", "stomp+ssl://h:2", "tcp://h:3", "ssl://[::1]:4"]
    assert StompConnection(urls, None, None).url is None
    assert "stomp+ssl://h:2" in repr(StompConnection(urls, "u", "pw"))
    with pytest.raises(LimsConfigError, match="no broker URL"):
        StompConnection([], None, None)


# --------------------------------------------------------------------------
# a private broker, killed under a connection


def test_broker_killed_while_connected_then_restarted(
    activemq_factory: ActiveMqFactory, activemq_queue: str, connect: Connect
) -> None:
    broker = activemq_factory()
    connection = connect(broker, receipt_timeout=5.0)
    connection.send(activemq_queue, b"kept", PERSISTENT)  # on disk once the receipt came
    broker.kill()
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as caught:
        connection.send(activemq_queue, b"lost", PERSISTENT)
    assert time.monotonic() - started < 5.0 + 1
    assert caught.value.target == broker.stomp_url
    assert not connection.connected
    with pytest.raises(BrokerUnavailableError):
        connect(broker, connect_timeout=2.0)
    broker.start()
    connection.connect()
    assert connection.connected
    connection.subscribe(activemq_queue)
    assert next_message(connection).body == b"kept"
    assert connection.receive(QUIET) is None


# --------------------------------------------------------------------------
# inside a gevent-patched process

GEVENT_CHILD = textwrap.dedent(
    """
    import os

    if os.environ["STOMP_TEST_GEVENT"] == "1":
        from gevent import monkey

        monkey.patch_all(thread=False)

    import json
    import gevent
    from mxcubecore_lims.broker.stomp import StompConnection

    ticks = [0]

    def tick():
        while True:
            ticks[0] += 1
            gevent.sleep(0.01)

    ticker = gevent.spawn(tick)
    queue = os.environ["STOMP_TEST_QUEUE"]
    connection = StompConnection([os.environ["STOMP_TEST_URL"]], os.environ["STOMP_TEST_USER"],
                                 os.environ["STOMP_TEST_PASSWORD"])
    connection.connect()
    connection.subscribe(queue)
    before = ticks[0]
    idle = connection.receive(timeout=1)
    during_wait = ticks[0] - before
    connection.send(queue, b"from a greenlet", {"persistent": "true"})
    message = connection.receive(timeout=10)
    connection.ack(message, receipt=True)
    gevent_socket = type(connection._socket).__module__
    connection.disconnect()
    ticker.kill()
    print(json.dumps({"idle": idle is None, "ticks": during_wait, "body": message.body.decode(),
                      "socket": gevent_socket}))
    """
)


@pytest.mark.parametrize("patched", [True, False], ids=["gevent", "plain"])
def test_the_client_in_a_fresh_process_with_and_without_gevent(
    activemq_broker: ActiveMqBroker, activemq_queue: str, patched: bool
) -> None:
    environ = {
        "STOMP_TEST_GEVENT": "1" if patched else "0",
        **os.environ,
        "STOMP_TEST_URL": activemq_broker.stomp_url,
        "STOMP_TEST_USER": activemq_broker.username or "",
        "STOMP_TEST_PASSWORD": activemq_broker.password or "",
        "STOMP_TEST_QUEUE": activemq_queue,
    }
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_CHILD], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["idle"] and result["body"] == "from a greenlet"
    if patched:
        assert result["socket"].startswith("gevent")
        assert result["ticks"] >= 30  # the counter greenlet ran while receive() waited 1 s
    else:
        # Standard-library sockets, which block the hub: the measure above means something.
        assert result["socket"] == "socket" and result["ticks"] == 0
