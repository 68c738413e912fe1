"""The broker route's pure parts: the write envelope, the broker settings, the ingester's configuration file."""

from __future__ import annotations

import ssl
from datetime import datetime
from pathlib import Path

import pytest

from mxcubecore_lims.broker import BrokerSettings, WriteMessage, decode_write, encode_write
from mxcubecore_lims.broker.envelope import GROUP_HEADER, KEY_HEADER, TYPE_HEADER
from mxcubecore_lims.errors import BrokerMessageError, ConfigValueError, LimsConfigError
from mxcubecore_lims.ingest.settings import read_settings
from mxcubecore_lims.lims.broker_route import collection_files


def test_a_write_travels_with_its_datetimes_key_and_group() -> None:
    started = datetime(2026, 12, 3, 10, 0, 1)
    message = WriteMessage(
        type="data_collection",
        key="abc123",
        source="host:/var/lib/journal.sqlite",
        provisional=[-1_000_000_001, None],
        payload={"collection": {"collection_start_time": started, "fileinfo": {"prefix": "p"}}},
        collection_files={"directory": "/d", "prefix": "p", "run_number": 1},
    )
    body, headers = encode_write(message)
    assert headers["persistent"] == "true"
    assert (headers[TYPE_HEADER], headers[KEY_HEADER], headers[GROUP_HEADER]) == (
        "data_collection",
        "abc123",
        message.source,
    )
    assert decode_write(body) == message
    assert decode_write(body).payload["collection"]["collection_start_time"] == started


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"\xff\xfe", "", "not JSON"),
        (b"[1, 2]", "", "not a JSON object"),
        (b'{"format": "other/1"}', "format", "expected"),
        (b'{"format": "mxcubecore-lims.write/1", "type": 5}', "type", "expected str"),
        (
            b'{"format": "mxcubecore-lims.write/1", "type": "image", "key": "k", "source": "s", "lims": "ISPyB",'
            b' "provisional": ["x"], "payload": {}}',
            "provisional",
            "ids or nulls",
        ),
        (
            b'{"format": "mxcubecore-lims.write/1", "type": "image", "key": "k", "source": "s", "lims": "ISPyB",'
            b' "provisional": [], "payload": []}',
            "payload",
            "expected dict",
        ),
    ],
)
def test_a_bad_envelope_is_refused_naming_the_field(body: bytes, field: str, words: str) -> None:
    with pytest.raises(BrokerMessageError) as caught:
        decode_write(body)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_an_unknown_kind_is_refused_when_kinds_are_given() -> None:
    body, _ = encode_write(WriteMessage(type="teleport", key="k", source="s", provisional=[], payload={}))
    assert decode_write(body).type == "teleport"
    with pytest.raises(BrokerMessageError, match="teleport"):
        decode_write(body, frozenset({"image"}))


def test_a_collection_is_named_by_its_files() -> None:
    dc = {"fileinfo": {"directory": "/data/c1", "prefix": "c1", "run_number": 2}}
    assert collection_files(dc) == {"directory": "/data/c1", "prefix": "c1", "run_number": 2}
    assert collection_files({"fileinfo": {"directory": "/d"}}) is None
    assert collection_files({}) is None


def test_broker_settings_check_urls_and_keep_the_password_secret() -> None:
    settings = BrokerSettings.of("stomp://127.0.0.1:61613, stomp+ssl://127.0.0.1:61614", "mxcube", "s3cret")
    assert settings.urls == ("stomp://127.0.0.1:61613", "stomp+ssl://127.0.0.1:61614")
    assert "s3cret" not in repr(settings)
    context = settings.ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    unverified = BrokerSettings.of(["stomp+ssl://127.0.0.1:61614"], verify_tls=False).ssl_context()
    assert unverified is not None and unverified.verify_mode == ssl.CERT_NONE
    assert BrokerSettings.of(["stomp://127.0.0.1:61613"]).ssl_context() is None
    with pytest.raises(LimsConfigError, match="at least one"):
        BrokerSettings.of("")
    with pytest.raises(LimsConfigError, match="http://x"):
        BrokerSettings.of(["http://x"])


def test_the_ingester_configuration_resolves_references_and_names_bad_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKER_PW", "from-env")
    (tmp_path / "icat.secret").write_text("from-file\n", encoding="utf-8")
    good = tmp_path / "ingest.yaml"
    good.write_text(
        "broker:\n  urls: [stomp://127.0.0.1:61613]\n  username: ingester\n  password: ${env:BROKER_PW}\n"
        "icat:\n  url: https://icat.example.org\n  username: ingester\n  password: ${file:icat.secret}\n",
        encoding="utf-8",
    )
    settings = read_settings(good)
    assert settings.broker.password == "from-env"
    assert settings.icat is not None and settings.icat.password == "from-file"
    assert settings.queues.icat == "/queue/icatIngest" and settings.retries == 3
    assert "from-env" not in repr(settings) and "from-file" not in repr(settings)

    bad = tmp_path / "bad.yaml"
    bad.write_text("broker:\n  urls: [stomp://x:1]\nretries: 0\nicat:\n  url: u\n  username: u\n  password: p\n")
    with pytest.raises(ConfigValueError) as caught:
        read_settings(bad)
    assert caught.value.field == "retries" and str(bad) in str(caught.value)

    secret = tmp_path / "secret.yaml"
    secret.write_text(
        "broker:\n  urls: [stomp://x:1]\n  password: [hunter2]\nicat:\n  url: u\n  username: u\n  password: p\n"
    )
    with pytest.raises(ConfigValueError) as caught:
        read_settings(secret)
    assert "hunter2" not in str(caught.value)

    nowhere = tmp_path / "nowhere.yaml"
    nowhere.write_text("broker:\n  urls: [stomp://x:1]\n")
    with pytest.raises(LimsConfigError, match="writes nowhere"):
        read_settings(nowhere)
    with pytest.raises(LimsConfigError, match="no ingester configuration"):
        read_settings(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("broker: [\n")
    with pytest.raises(LimsConfigError, match="not YAML"):
        read_settings(broken)
