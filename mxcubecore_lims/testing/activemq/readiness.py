"""Telling whether a started broker answers: one STOMP CONNECT over a raw socket.

A raw frame rather than a client library: the plugin loads in every test
session, also where the ``broker`` extra (stomp.py) is not installed.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

__all__ = ["StompAnswer", "stomp_connect"]

_MAX_FRAME = 64 * 1024


@dataclass(frozen=True)
class StompAnswer:
    """What the broker said to CONNECT.

    Attributes:
        command: ``CONNECTED`` or ``ERROR``.
        headers: The frame's headers (the first of a repeated one).
        body: The frame's body, decoded as UTF-8.
    """

    command: str
    headers: dict[str, str]
    body: str

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the connection."""
        return self.command == "CONNECTED"


def _connect_frame(login: str | None, passcode: str | None) -> bytes:
    """Builds a STOMP 1.2 CONNECT frame (its headers are not escaped, by the spec)."""
    lines = ["CONNECT", "accept-version:1.2", "host:localhost", "heart-beat:0,0"]
    if login is not None:
        lines += [f"login:{login}", f"passcode:{passcode or ''}"]
    return ("\n".join(lines) + "\n\n\0").encode("utf-8")


def _parse(frame: bytes) -> StompAnswer:
    head, _, body = frame.partition(b"\n\n")
    lines = head.decode("utf-8", errors="replace").lstrip("\r\n").splitlines()
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name, value)
    return StompAnswer(lines[0].strip() if lines else "", headers, body.decode("utf-8", errors="replace"))


def stomp_connect(
    host: str, port: int, login: str | None = None, passcode: str | None = None, timeout: float = 5.0
) -> StompAnswer:
    """Sends CONNECT, reads the answer frame, and disconnects.

    Args:
        host: The broker's address.
        port: Its STOMP port.
        login: The user, or ``None`` to connect without credentials.
        passcode: The password.
        timeout: Seconds for connecting and for each read.

    Returns:
        The broker's answer.

    Raises:
        OSError: Nothing listens, or the connection broke or timed out
            before a whole frame came back.
    """
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(_connect_frame(login, passcode))
        received = b""
        while b"\0" not in received:
            chunk = connection.recv(4096)
            if not chunk:
                raise ConnectionResetError(f"the peer closed the connection after {len(received)} bytes")
            received += chunk
            if len(received) > _MAX_FRAME:
                raise ConnectionError("no end of frame in the first 64 KiB: not a STOMP server")
        answer = _parse(received.partition(b"\0")[0])
        if answer.connected:
            try:
                connection.sendall(b"DISCONNECT\n\n\0")
            except OSError:
                pass  # the answer is what counts
        return answer
