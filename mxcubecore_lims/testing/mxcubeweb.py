"""mxcubeweb, the real client, as a test peer: its server in a child process, HTTP on loopback.

:class:`MxcubewebServer` runs ``mxcubecore-lims web --no-emulators`` on a free
loopback port over a lookup path whose first directory points the demo's LIMS
objects at the test's own emulated servers (:func:`write_site_directory`), waits
until mxcubeweb answers, and stops it with SIGTERM. :class:`MxcubewebClient` is
one browser: its own cookie jar, and mxcubeweb's routes as methods;
:meth:`MxcubewebClient.listen` opens its socket.io connection (what the front end
listens to) and records the events pushed to it (:class:`PushedEvents`).

mxcubeweb runs in a child process because it keeps its state in class
attributes and in mxcubecore's global repository: one server per process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import gevent
import requests

from mxcubecore_lims.errors import LimsError

__all__ = ["MxcubewebClient", "MxcubewebError", "MxcubewebServer", "PushedEvents", "write_site_directory"]

API = "/mxcube/api/v0.1"

#: What the demo configuration names, and what a test's emulators replace it with.
DEMO_ADDRESSES = {
    "ispyb": "http://127.0.0.1:18080/ispyb/ispyb-ws/ispybWS/",
    "icat": "http://127.0.0.1:18181",
    "ldap": "ldap://127.0.0.1:13389",
    "data": "/tmp/mxcubecore-lims-demo",  # noqa: S108 (the demo configuration's own path, replaced here)
}

#: Demo files that name a server or the data directory.
SITE_FILES = ("lims_icat.xml", "lims_ispyb.xml", "lims_user.yaml", "ldapconnection.yaml", "session.xml")


class MxcubewebError(LimsError):
    """mxcubeweb did not start, or answered what it never should (the log is in the message)."""


def write_site_directory(target: Path, demo: Path, addresses: Mapping[str, str]) -> Path:
    """Copies the demo's server-naming files into ``target`` with other addresses.

    Args:
        target: The directory to write (goes before the demo on the lookup path).
        demo: The demo configuration directory.
        addresses: New values for keys of :data:`DEMO_ADDRESSES`.

    Returns:
        ``target``.

    Raises:
        MxcubewebError: A file no longer names the address it is expected to
            (the demo changed; so must the tests).
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        text = (demo / name).read_text(encoding="utf-8")
        for key, new in addresses.items():
            text = text.replace(DEMO_ADDRESSES[key], new)
        for key in addresses:
            if DEMO_ADDRESSES[key] in text:
                raise MxcubewebError(f"{name} still names {DEMO_ADDRESSES[key]}")
        (target / name).write_text(text, encoding="utf-8")
    return target


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MxcubewebServer:
    """``mxcubecore-lims web`` in a child process.

    Args:
        lookup: The lookup path, best first.
        lims: The ``--lims`` choice.
        log_file: Where the server's output goes.
        env: Extra environment (e.g. ``MXCUBECORE_LIMS_STATE_DIR``).
        start_timeout: Seconds to wait for mxcubeweb to answer.
    """

    def __init__(
        self,
        lookup: list[Path],
        lims: str,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        self.lookup = lookup
        self.lims = lims
        self.log_file = log_file
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def log(self, last: int = 60) -> str:
        """The last lines of the server's output."""
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-last:])

    def start(self) -> MxcubewebServer:
        """Starts the server and waits until ``login_info`` answers.

        Raises:
            MxcubewebError: It exited or did not answer in time.
        """
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "mxcubecore_lims.cli",
            "web",
            "--no-emulators",
            "-v",
            "--config",
            ":".join(str(p) for p in self.lookup),
            "--lims",
            self.lims,
            "--port",
            str(self.port),
        ]
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        output = self.log_file.open("wb")
        self._process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
        )
        output.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MxcubewebError(f"mxcubeweb exited with {self._process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + API + "/login/login_info", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise MxcubewebError(f"mxcubeweb did not answer within {self.start_timeout} s:\n{self.log()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s; returns the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        code = self._process.returncode
        self._process = None
        return code

    def client(self) -> MxcubewebClient:
        """A new browser (its own cookies) on this server."""
        return MxcubewebClient(self.url)


class MxcubewebClient:
    """One browser on mxcubeweb's API.

    Args:
        url: The server, ``http://127.0.0.1:PORT``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def _json(self, response: requests.Response) -> Any:
        if response.status_code != 200:
            raise MxcubewebError(
                f"{response.request.method} {response.url}: HTTP {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        """``GET`` an API path; the JSON answer."""
        return self._json(self.http.get(self.url + API + path, params=params, timeout=60))

    def post(self, path: str, body: Any) -> Any:
        """``POST`` JSON to an API path; the JSON answer."""
        return self._json(self.http.post(self.url + API + path, json=body, timeout=60))

    def put(self, path: str, body: Any) -> Any:
        """``PUT`` JSON to an API path; the JSON answer."""
        return self._json(self.http.put(self.url + API + path, json=body, timeout=60))

    def login(self, login_id: str, password: str) -> str:
        """Logs in; mxcubeweb's message (``""`` on success, ``"Authentication failed"`` else)."""
        return str(self.post("/login/", {"proposal": login_id, "password": password})["msg"])

    def login_info(self) -> dict[str, Any]:
        """``GET /login/login_info``."""
        return dict(self.get("/login/login_info"))

    def select_session(self, session_id: str) -> requests.Response:
        """``POST /lims/proposal`` (the raw response: mxcubeweb answers 500 when it refuses)."""
        return self.http.post(self.url + API + "/lims/proposal", json={"proposal_number": session_id}, timeout=60)

    def samples(self, lims_name: str) -> dict[str, Any]:
        """``GET /lims/lims_samples?lims=NAME``: mxcubeweb's sample list after the sync."""
        return dict(self.get("/lims/lims_samples", lims=lims_name))

    def signout(self) -> None:
        """``GET /login/signout``."""
        self._json(self.http.get(self.url + API + "/login/signout", timeout=60))

    def listen(self, namespace: str = "/hwr") -> PushedEvents:
        """Connects this browser's socket.io client (its login cookie) to ``namespace``."""
        return PushedEvents(self, namespace)


def _green_socketio_client() -> Any:
    """A python-socketio client whose background tasks are greenlets.

    Its stock tasks are OS threads; the tests' sockets are gevent's (monkey-
    patched), which belong to the hub of the thread that made them, and the
    emulated servers the tests run share the main thread's hub. Greenlets keep
    the client, the emulators and the test on one hub, taking turns.
    """
    import engineio  # the web extra (Flask-SocketIO's dependencies)
    import gevent.event
    import gevent.queue
    import socketio

    class GreenEngineioClient(engineio.Client):
        def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
            return gevent.spawn(target, *args, **kwargs)

        def sleep(self, seconds: float = 0) -> None:
            gevent.sleep(seconds)

        def create_queue(self, *args: Any, **kwargs: Any) -> Any:
            return gevent.queue.JoinableQueue(*args, **kwargs)

        def get_queue_empty_exception(self) -> type[Exception]:
            return cast(type[Exception], gevent.queue.Empty)

        def create_event(self, *args: Any, **kwargs: Any) -> Any:
            return gevent.event.Event()

    class GreenSocketioClient(socketio.Client):
        def _engineio_client_class(self) -> type:
            return GreenEngineioClient

    return GreenSocketioClient


class PushedEvents:
    """The socket.io events mxcubeweb pushes to one browser, in arrival order.

    python-socketio's client (installed with Flask-SocketIO, an mxcubeweb
    dependency) over long-polling, the transport mxcubeweb's server always
    offers; it sends the browser's cookies, so mxcubeweb's ``connect`` handler
    ties the socket to the logged-in user as it does for the front end.

    Args:
        browser: The logged-in browser.
        namespace: The socket.io namespace (mxcubeweb pushes state on ``/hwr``).
    """

    def __init__(self, browser: MxcubewebClient, namespace: str) -> None:
        self.namespace = namespace
        self.received: list[tuple[str, tuple[Any, ...]]] = []
        self._client = _green_socketio_client()(http_session=browser.http, reconnection=False)
        self._client.on("*", self._record, namespace=namespace)
        self._client.connect(browser.url, namespaces=[namespace], transports=["polling"], wait_timeout=30)

    def _record(self, event: str, *args: Any) -> None:
        self.received.append((event, args))

    def names(self) -> list[str]:
        """The names of the events received and not yet waited for."""
        return [name for name, _ in self.received]

    def wait_for(self, event: str, timeout: float = 30.0) -> tuple[Any, ...]:
        """Waits for the next ``event`` not yet waited for; its arguments.

        Polls with ``gevent.sleep``, giving the client's greenlets (and the
        emulated servers mxcubeweb may be calling right then) their turns.

        Raises:
            MxcubewebError: It did not arrive within ``timeout`` seconds (the
                message lists what did).
        """
        deadline = time.monotonic() + timeout
        while True:
            for index, (name, args) in enumerate(self.received):
                if name == event:
                    del self.received[index]
                    return args
            if time.monotonic() >= deadline:
                raise MxcubewebError(f"no {event!r} on {self.namespace} within {timeout} s; received {self.names()}")
            gevent.sleep(0.05)

    def close(self) -> None:
        """Disconnects."""
        self._client.disconnect()

    def __enter__(self) -> PushedEvents:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
