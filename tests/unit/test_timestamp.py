"""X-Timestamp parsing, printing and ordering: every replica must agree on which write
is newer, so these are exact (integer) and round-trip."""

from __future__ import annotations

import time

import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.storage.timestamp import InvalidTimestamp, Timestamp


@pytest.mark.parametrize(
    ("raw", "normal", "internal"),
    [
        ("1234567890.12345", "1234567890.12345", "1234567890.12345"),
        ("1234567890", "1234567890.00000", "1234567890.00000"),
        ("1.5", "0000000001.50000", "0000000001.50000"),
        ("0", "0000000000.00000", "0000000000.00000"),
        ("1234567890.123456", "1234567890.12346", "1234567890.12346"),  # rounded half up
        ("1234567890.123454", "1234567890.12345", "1234567890.12345"),
        ("1234567890.999995", "1234567891.00000", "1234567891.00000"),  # carries
        (
            "1234567890.12345_0000000000000001",
            "1234567890.12345",
            "1234567890.12345_0000000000000001",
        ),
        ("1234567890.12345_a", "1234567890.12345", "1234567890.12345_000000000000000a"),
        ("1234567890.12345_0000000000000000", "1234567890.12345", "1234567890.12345"),
    ],
)
def test_parse_and_print(raw: str, normal: str, internal: str) -> None:
    ts = Timestamp.parse(raw)
    assert ts.normal == normal
    assert ts.internal == internal
    assert str(ts) == internal
    assert Timestamp.parse(ts.internal) == ts


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "abc",
        "-1",
        "+1",
        "1e9",
        "1.2.3",
        "1234567890.12345_",
        "1_zz",
        "nan",
        "inf",
        "12345678901",
        "1234567890.1 ",
        "1234567890.12345_00000000000000001",
    ],
)
def test_invalid_values_are_clear_errors(raw: str) -> None:
    with pytest.raises(InvalidTimestamp) as info:
        Timestamp.parse(raw)
    assert isinstance(info.value, InvalidInput)
    assert repr(raw) in info.value.message


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidTimestamp):
        Timestamp.parse(1234567890)  # type: ignore[arg-type]


def test_ordering_is_by_time_then_offset() -> None:
    values = ["2.00000", "1.00000_0000000000000002", "1.00001", "1.00000", "1.00000_1"]
    ordered = sorted(Timestamp.parse(v) for v in values)
    assert [t.internal for t in ordered] == [
        "0000000001.00000",
        "0000000001.00000_0000000000000001",
        "0000000001.00000_0000000000000002",
        "0000000001.00001",
        "0000000002.00000",
    ]
    assert Timestamp.parse("1.5") == Timestamp.parse("1.50000")
    assert Timestamp.parse("1.5") < Timestamp.parse("1.5_1")


def test_normal_form_sorts_like_time() -> None:
    stamps = [Timestamp.parse(v) for v in ("9.1", "10.0", "100.00001", "99.99999")]
    assert sorted(stamps) == sorted(stamps, key=lambda t: t.normal)


def test_from_seconds_and_views() -> None:
    ts = Timestamp.from_seconds(1700000000.123456)
    assert ts.normal == "1700000000.12346"
    assert ts.seconds == pytest.approx(1700000000.12346)
    assert ts.http_date == "Tue, 14 Nov 2023 22:13:21 GMT"  # rounded up to the second
    assert ts.with_offset(3).internal == "1700000000.12346_0000000000000003"
    with pytest.raises(InvalidTimestamp):
        Timestamp.from_seconds(-1.0)
    with pytest.raises(InvalidTimestamp):
        Timestamp.from_seconds(float("nan"))
    with pytest.raises(InvalidTimestamp):
        Timestamp(-1)
    with pytest.raises(InvalidTimestamp):
        Timestamp(0, 2**64)


def test_now_is_recent() -> None:
    assert abs(Timestamp.now().seconds - time.time()) < 5
