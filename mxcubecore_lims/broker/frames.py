r"""STOMP 1.2 frames: one immutable frame type, an encoder and an incremental parser.

The wire format (https://stomp.github.io/stomp-specification-1.2.html):

* a command line, then ``key:value`` header lines, then a blank line, the
  body and a NUL byte; lines end in ``\\n`` or ``\\r\\n``;
* header keys and values are escaped (``\\\\``, ``\\n``, ``\\r``, ``\\c``
  for a colon), except in ``CONNECT`` and ``CONNECTED`` frames;
* a ``content-length`` header gives the body's size, so a body may contain
  NUL bytes; without it the body ends at the first NUL;
* end-of-line bytes between frames are heart-beats;
* when a header is repeated, its first value is the one that counts.

:func:`encode` always writes ``content-length`` for a frame with a body (and
for ``SEND``, ``MESSAGE`` and ``ERROR`` frames), so bodies are binary-safe.
:class:`FrameReader` raises :class:`~mxcubecore_lims.errors.BrokerMessageError`
naming the part of a malformed frame. Neither does any I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mxcubecore_lims.errors import BrokerMessageError

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "Frame", "FrameReader", "encode"]

#: The largest frame :class:`FrameReader` accepts by default (64 MiB).
DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

# Frames whose headers are never escaped (STOMP 1.2, "Value Encoding").
_RAW_HEADER_COMMANDS = frozenset({"CONNECT", "CONNECTED"})
# Frames that always carry content-length, even with an empty body.
_BODY_COMMANDS = frozenset({"SEND", "MESSAGE", "ERROR"})
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", ":": "\\c"}
_UNESCAPES = {"\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\c": ":"}
_ESCAPE_RE = re.compile(r"[\\\n\r:]")
_UNESCAPE_RE = re.compile(r"\\.?", re.DOTALL)
_COMMAND_RE = re.compile(r"[A-Za-z]+")
_MODEL = "STOMP frame"


@dataclass(frozen=True)
class Frame:
    """One STOMP frame.

    Attributes:
        command: The command (``SEND``, ``MESSAGE``, ``RECEIPT``, ...).
        headers: The headers, unescaped; the first of repeated keys.
        body: The body bytes (without the terminating NUL).
    """

    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _escape(text: str) -> str:
    return _ESCAPE_RE.sub(lambda match: _ESCAPES[match.group()], text)


def encode(frame: Frame) -> bytes:
    """Returns the frame's bytes on the wire, NUL included.

    ``content-length`` is set from the body (replacing any given one) when the
    body is not empty or the command is ``SEND``, ``MESSAGE`` or ``ERROR``.

    Raises:
        BrokerMessageError: A ``CONNECT``/``CONNECTED`` header (which cannot be
            escaped) contains CR, LF or NUL, or a key contains a colon. The
            value of a ``passcode`` header is never shown.
    """
    raw = frame.command in _RAW_HEADER_COMMANDS
    lines = [frame.command]
    for key, value in frame.headers.items():
        if key == "content-length":
            continue
        if raw:
            bad_key = any(char in key for char in ":\r\n\0")
            if bad_key or any(char in value for char in "\r\n\0"):
                shown = None if key == "passcode" else (key if bad_key else value)
                reason = f"a {frame.command} header cannot contain CR, LF or NUL (nor a colon in its key)"
                raise BrokerMessageError(_MODEL, key, shown, reason)
            lines.append(f"{key}:{value}")
        else:
            lines.append(f"{_escape(key)}:{_escape(value)}")
    if frame.body or frame.command in _BODY_COMMANDS:
        lines.append(f"content-length:{len(frame.body)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + frame.body + b"\0"


def _unescape(text: str, key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escape = match.group()
        if escape not in _UNESCAPES:
            raise BrokerMessageError(_MODEL, key, text, f"undefined escape sequence {escape!r} in a header")
        return _UNESCAPES[escape]

    return _UNESCAPE_RE.sub(replace, text)


@dataclass
class _Head:
    """The parsed command and headers of the frame being read, waiting for its body."""

    command: str
    headers: dict[str, str]
    body_start: int
    length: int | None


class FrameReader:
    """Parses STOMP frames out of a byte stream fed in pieces of any size.

    Args:
        max_frame_bytes: The largest frame accepted (headers and body).
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._head: _Head | None = None
        self._scanned = 0  # where the search for the NUL (or the blank line) resumes

    @property
    def buffered(self) -> int:
        """The number of bytes held that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Adds bytes from the stream; returns the frames they complete, in order.

        Raises:
            BrokerMessageError: A frame is malformed or larger than
                ``max_frame_bytes``; the reader is then reset (the stream
                cannot be trusted any more).
        """
        self._buffer += data
        frames: list[Frame] = []
        try:
            while True:
                frame = self._next()
                if frame is None:
                    return frames
                frames.append(frame)
        except BrokerMessageError:
            self._buffer.clear()
            self._head = None
            self._scanned = 0
            raise

    def _next(self) -> Frame | None:
        buffer = self._buffer
        if self._head is None:
            # Heart-beats: end-of-line bytes between frames.
            skip = 0
            while skip < len(buffer):
                if buffer[skip] == 0x0A:
                    skip += 1
                elif buffer[skip] == 0x0D and buffer[skip + 1 : skip + 2] == b"\n":
                    skip += 2
                else:
                    break
            if skip:
                del buffer[:skip]
                self._scanned = 0
            if not buffer or buffer == b"\r":
                return None
            self._head = self._read_head()
            if self._head is None:
                return None
        head = self._head
        if head.length is not None:
            end = head.body_start + head.length
            if len(buffer) <= end:
                return None
            if buffer[end] != 0:
                raise BrokerMessageError(
                    _MODEL, "body", bytes(buffer[end : end + 20]), "no NUL after content-length bytes"
                )
        else:
            end = buffer.find(b"\0", max(head.body_start, self._scanned))
            if end < 0:
                self._scanned = len(buffer)
                if len(buffer) > self.max_frame_bytes:
                    raise BrokerMessageError(
                        _MODEL, "body", len(buffer), f"frame larger than {self.max_frame_bytes} bytes"
                    )
                return None
        frame = Frame(head.command, head.headers, bytes(buffer[head.body_start : end]))
        del buffer[: end + 1]
        self._head = None
        self._scanned = 0
        return frame

    def _check_size(self) -> None:
        if len(self._buffer) > self.max_frame_bytes:
            reason = f"frame larger than {self.max_frame_bytes} bytes"
            raise BrokerMessageError(_MODEL, "headers", len(self._buffer), reason)

    def _read_head(self) -> _Head | None:
        buffer = self._buffer
        # The head ends at the first empty line: "\n\n", "\n\r\n".
        start = self._scanned
        while True:
            newline = buffer.find(b"\n", start)
            if newline < 0:
                self._scanned = len(buffer)
                self._check_size()
                return None
            following = bytes(buffer[newline + 1 : newline + 3])
            if following[:1] == b"\n":
                head_end, body_start = newline, newline + 2
                break
            if following == b"\r\n":
                head_end, body_start = newline, newline + 3
                break
            if following in (b"", b"\r"):  # the next bytes decide
                self._scanned = newline
                self._check_size()
                return None
            start = newline + 1
        self._scanned = 0
        if body_start > self.max_frame_bytes:
            raise BrokerMessageError(_MODEL, "headers", body_start, f"frame larger than {self.max_frame_bytes} bytes")
        try:
            text = buffer[:head_end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BrokerMessageError(_MODEL, "headers", bytes(buffer[:head_end]), f"not UTF-8: {exc}") from None
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        command = lines[0]
        if not _COMMAND_RE.fullmatch(command):
            raise BrokerMessageError(_MODEL, "command", command, "not a STOMP command")
        raw = command in _RAW_HEADER_COMMANDS
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, colon, value = line.partition(":")
            if not colon:
                raise BrokerMessageError(_MODEL, "header", line, "header line without a colon")
            if not raw:
                key = _unescape(key, key)
                value = _unescape(value, key)
            headers.setdefault(key, value)
        length: int | None = None
        if "content-length" in headers:
            declared = headers["content-length"]
            if not declared.isascii() or not declared.isdigit():
                raise BrokerMessageError(_MODEL, "content-length", declared, "not a non-negative integer")
            length = int(declared)
            if body_start + length + 1 > self.max_frame_bytes:
                reason = f"frame larger than {self.max_frame_bytes} bytes"
                raise BrokerMessageError(_MODEL, "content-length", length, reason)
        return _Head(command, headers, body_start, length)
