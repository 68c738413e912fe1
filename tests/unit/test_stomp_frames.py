"""STOMP 1.2 frames: encoding, incremental parsing and the typed errors of malformed frames."""

from __future__ import annotations

import pytest

from mxcubecore_lims.broker.frames import Frame, FrameReader, encode
from mxcubecore_lims.errors import BrokerError, BrokerMessageError, LimsDataError

TRICKY = {
    "destination": "/queue/a:b",
    "colon:key": "x:y:z",
    "multi": "line one\nline two\r\nthree",
    "back\\slash": "C:\\data\\run\\",
    "unicode": "Grüße ✓ 日本",
    "empty": "",
}


def parse_one(data: bytes, **kwargs: int) -> Frame:
    (frame,) = FrameReader(**kwargs).feed(data)
    return frame


# --------------------------------------------------------------------------
# encoding


def test_encode_escapes_headers_and_adds_content_length() -> None:
    data = encode(Frame("SEND", {"destination": "/queue/q", "k:1": "a\nb\\c\rd"}, b"hi"))
    assert data == b"SEND\ndestination:/queue/q\nk\\c1:a\\nb\\\\c\\rd\ncontent-length:2\n\nhi\0"


def test_encode_does_not_escape_connect_frames_and_keeps_colons_in_values() -> None:
    data = encode(Frame("CONNECT", {"accept-version": "1.2", "login": "a:b", "passcode": "p\\w:d"}))
    assert data == b"CONNECT\naccept-version:1.2\nlogin:a:b\npasscode:p\\w:d\n\n\0"
    assert parse_one(data).headers == {"accept-version": "1.2", "login": "a:b", "passcode": "p\\w:d"}


def test_encode_refuses_a_newline_in_a_connect_header_without_showing_the_passcode() -> None:
    with pytest.raises(BrokerMessageError) as caught:
        encode(Frame("CONNECT", {"passcode": "secret\nline"}))
    assert caught.value.field == "passcode" and "secret" not in str(caught.value)


def test_encode_replaces_a_wrong_content_length_and_sends_zero_for_empty_send() -> None:
    data = encode(Frame("SEND", {"content-length": "99", "destination": "/q"}))
    assert data == b"SEND\ndestination:/q\ncontent-length:0\n\n\0"
    assert encode(Frame("ACK", {"id": "1"})) == b"ACK\nid:1\n\n\0"  # no body, no content-length


# --------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("command", ["SEND", "MESSAGE", "ERROR", "RECEIPT"])
def test_tricky_headers_round_trip(command: str) -> None:
    frame = parse_one(encode(Frame(command, TRICKY, "Grüße\0\n\0".encode())))
    assert frame.command == command
    assert {key: value for key, value in frame.headers.items() if key != "content-length"} == TRICKY
    assert frame.body == "Grüße\0\n\0".encode()
    assert frame.headers["content-length"] == str(len(frame.body))


def test_body_with_nul_needs_content_length_and_without_it_ends_at_the_first_nul() -> None:
    reader = FrameReader()
    frames = reader.feed(b"MESSAGE\ncontent-length:3\n\na\0b\0MESSAGE\nx:1\n\nplain\0")
    assert [(frame.body, frame.headers.get("x")) for frame in frames] == [(b"a\0b", None), (b"plain", "1")]
    assert reader.buffered == 0


def test_byte_by_byte_feeding_gives_the_same_frames() -> None:
    stream = b"\n".join(
        [
            encode(Frame("MESSAGE", TRICKY, b"\0body\0")),
            encode(Frame("RECEIPT", {"receipt-id": "r-1"})),
            b"MESSAGE\r\nk:v\r\nk:second\r\n\r\nno length\0",
        ]
    )
    whole = FrameReader().feed(stream)
    reader = FrameReader()
    pieces = [frame for index in range(len(stream)) for frame in reader.feed(stream[index : index + 1])]
    assert pieces == whole
    assert [frame.command for frame in pieces] == ["MESSAGE", "RECEIPT", "MESSAGE"]
    assert pieces[2].headers == {"k": "v"}  # the first of repeated headers wins
    assert pieces[2].body == b"no length"
    assert reader.buffered == 0


def test_heart_beats_between_frames_are_skipped() -> None:
    reader = FrameReader()
    assert reader.feed(b"\n\r\n\n") == []
    frames = reader.feed(b"RECEIPT\nreceipt-id:1\n\n\0\n\r\n\nRECEIPT\nreceipt-id:2\n\n\0\r")
    assert [frame.headers["receipt-id"] for frame in frames] == ["1", "2"]
    assert reader.feed(b"\n") == [] and reader.buffered == 0


def test_connected_headers_are_not_unescaped() -> None:
    frame = parse_one(b"CONNECTED\nversion:1.2\nserver:ActiveMQ\\c5\n\n\0")
    assert frame.headers["server"] == "ActiveMQ\\c5"


def test_crlf_frames_parse() -> None:
    frame = parse_one(b"MESSAGE\r\ndestination:/queue/x\r\ncontent-length:2\r\n\r\nok\0")
    assert frame == Frame("MESSAGE", {"destination": "/queue/x", "content-length": "2"}, b"ok")


# --------------------------------------------------------------------------
# malformed frames


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        (b"MESSAGE\nno colon here\n\n\0", "header", "no colon here"),
        (b"MESSAGE\nkey:tab\\there\n\n\0", "key", "tab\\there"),
        (b"MESSAGE\nbad\\x:v\n\n\0", "bad\\x", "bad\\x"),
        (b"MESSAGE\nkey:ends in backslash\\\n\n\0", "key", "ends in backslash\\"),
        (b"MESSAGE\ncontent-length:ten\n\n\0", "content-length", "ten"),
        (b"MESSAGE\ncontent-length:-1\n\n\0", "content-length", "-1"),
        (b"MESSAGE\ncontent-length:2\n\nabc\0", "body", b"c\0"),
        (b"MES SAGE\n\n\0", "command", "MES SAGE"),
        (b"MESSAGE\nk:\xff\n\n\0", "headers", b"MESSAGE\nk:\xff"),
    ],
)
def test_malformed_frames_raise_the_typed_error_naming_the_part(data: bytes, field: str, value: object) -> None:
    reader = FrameReader()
    with pytest.raises(BrokerMessageError) as caught:
        reader.feed(data)
    error = caught.value
    assert isinstance(error, BrokerError) and isinstance(error, LimsDataError)
    assert (error.model, error.field, error.value) == ("STOMP frame", field, value)
    assert str(error).startswith(f"STOMP frame.{field}: ")
    assert reader.buffered == 0  # reset: the stream cannot be trusted


def test_oversize_frames_are_refused_with_or_without_content_length() -> None:
    with pytest.raises(BrokerMessageError, match="larger than 100 bytes") as caught:
        FrameReader(max_frame_bytes=100).feed(b"MESSAGE\ncontent-length:1000\n\n")
    assert caught.value.field == "content-length"
    reader = FrameReader(max_frame_bytes=100)
    reader.feed(b"MESSAGE\n\n" + b"x" * 90)
    with pytest.raises(BrokerMessageError, match="larger than 100 bytes") as caught:
        reader.feed(b"x" * 20)
    assert caught.value.field == "body"
    with pytest.raises(BrokerMessageError) as caught:
        FrameReader(max_frame_bytes=100).feed(b"MESSAGE\n" + b"k:v\n" * 30)
    assert caught.value.field == "headers"
    # A frame exactly within the limit passes.
    assert parse_one(encode(Frame("SEND", {}, b"y" * 70)), max_frame_bytes=100).body == b"y" * 70
