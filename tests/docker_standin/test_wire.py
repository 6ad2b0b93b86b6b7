"""Unit tests of the stand-in's value handling: Structs, secrets, durations, tar."""

from __future__ import annotations

import io
import tarfile

import pytest

from .__main__ import engine_address
from .container_spec import parse_go_duration, upload_archive
from .wire import (
    UNKNOWN,
    dict_to_struct,
    has_unknown,
    reveal,
    same_value,
    secret,
    struct_to_dict,
)

pytestmark = pytest.mark.unit


def test_struct_round_trip_drops_nulls_and_keeps_secret_wrappers() -> None:
    props = {"name": "x", "none": None, "nested": {"a": None, "b": [1, secret("s")]}}

    decoded = struct_to_dict(dict_to_struct(props))

    assert decoded == {"name": "x", "nested": {"b": [1.0, secret("s")]}}


def test_reveal_removes_secrets_at_any_depth() -> None:
    value = secret([{"content": secret("s3cret"), "file": "/a"}])

    assert reveal(value) == [{"content": "s3cret", "file": "/a"}]


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        (1.0, 1, True),
        (secret("a"), "a", True),
        ("a", "b", False),
        ("a", UNKNOWN, False),
        ([1], [{"x": UNKNOWN}], False),
        (None, None, True),
    ],
)
def test_same_value_ignores_secrets_and_treats_unknown_as_changed(
    old: object, new: object, same: bool
) -> None:
    assert same_value(old, new) is same


def test_has_unknown_finds_nested_sentinel() -> None:
    assert has_unknown({"a": [1, {"b": UNKNOWN}]})
    assert not has_unknown({"a": [1, {"b": "known"}]})


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("0s", 0),
        ("500ms", 500_000_000),
        ("5s", 5_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("250us", 250_000),
    ],
)
def test_parse_go_duration_reads_go_syntax(text: str, nanos: int) -> None:
    assert parse_go_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "5", "-5s", "5 s", "s", "1x"])
def test_parse_go_duration_refuses_non_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a Go duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(("executable", "mode"), [(False, 0o644), (True, 0o744)])
def test_upload_archive_holds_one_file_with_upstream_mode(
    executable: bool, mode: int
) -> None:
    upload = {"file": "/etc/app/a.json", "content": "{}", "executable": executable}

    with tarfile.open(fileobj=io.BytesIO(upload_archive(upload))) as archive:
        (member,) = archive.getmembers()
        content = archive.extractfile(member)
        assert content is not None
        assert (member.name, member.mode, content.read()) == (
            "etc/app/a.json",
            mode,
            b"{}",
        )


def test_upload_archive_decodes_base64_content() -> None:
    upload = {"file": "/bin/run", "contentBase64": "AAE=", "executable": True}

    with tarfile.open(fileobj=io.BytesIO(upload_archive(upload))) as archive:
        content = archive.extractfile("bin/run")
        assert content is not None
        assert content.read() == b"\x00\x01"


@pytest.mark.parametrize(
    ("argv", "address"),
    [
        (["127.0.0.1:4000"], "127.0.0.1:4000"),
        (["--logtostderr", "-v=9", "127.0.0.1:4000"], "127.0.0.1:4000"),
        (["--tracing", "http://t", "127.0.0.1:4000"], "127.0.0.1:4000"),
        ([], None),
    ],
)
def test_engine_address_is_the_last_positional_argument(
    argv: list[str], address: str | None
) -> None:
    assert engine_address(argv) == address
