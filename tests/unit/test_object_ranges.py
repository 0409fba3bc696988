"""Swift's Range rules: what is ignored, trimmed, refused, and served as several parts."""

from __future__ import annotations

import pytest

from stratus.objectstore.storage.conditions import matches, missing_status, precondition_status
from stratus.objectstore.storage.ranges import ByteRange, Unsatisfiable, parse_ranges


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=5-3", "bytes=x", "bytes=4", "bytes=-", "items=0-1", "bytes=0-1,x-2"],
)
def test_malformed_headers_are_ignored(header: str | None) -> None:
    assert parse_ranges(header, 10) is None


def test_ranges_are_trimmed_and_suffixes_resolved() -> None:
    assert parse_ranges("bytes=0-1, 5-9,-3", 10) == [
        ByteRange(0, 2),
        ByteRange(5, 10),
        ByteRange(7, 10),
    ]
    assert parse_ranges("bytes=8-100", 10) == [ByteRange(8, 10)]
    assert parse_ranges("bytes=-100", 10) == [ByteRange(0, 10)]
    assert parse_ranges("bytes=20-30,2-3", 10) == [ByteRange(2, 4)]  # unsatisfiable one dropped


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=20-30", "bytes=-0", "bytes=10-11,-0"])
def test_nothing_satisfiable_is_416(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_ranges(header, 10)


def test_egregious_requests_are_416() -> None:
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(51))
    with pytest.raises(Unsatisfiable):
        parse_ranges(many, 100)
    assert parse_ranges("bytes=" + ",".join(f"{i}-{i}" for i in range(50)), 100)
    with pytest.raises(Unsatisfiable):  # three overlapping pairs
        parse_ranges("bytes=0-5,1-6,2-7", 100)
    assert parse_ranges("bytes=0-5,1-6", 100)  # one pair
    backwards = "bytes=" + ",".join(f"{i}-{i}" for i in range(16, 0, -2))
    with pytest.raises(Unsatisfiable):  # eight out of order
        parse_ranges(backwards, 100)
    assert parse_ranges("bytes=" + ",".join(f"{i}-{i}" for i in range(14, 0, -2)), 100)


def test_suffix_of_an_empty_object_is_the_whole_object() -> None:
    assert parse_ranges("bytes=-5", 0) is None
    with pytest.raises(Unsatisfiable):
        parse_ranges("bytes=0-", 0)


def test_etags_compare_quoted_or_not() -> None:
    assert matches('"abc"', "abc")
    assert matches("abc", '"abc"')
    assert matches('x, "abc"', "abc")
    assert matches("*", "anything")
    assert not matches('"abd"', "abc")


def test_condition_order_is_swifts() -> None:
    date = "Tue, 14 Nov 2023 22:13:20 GMT"  # 1700000000
    assert precondition_status({"if-none-match": "e"}, "e", 1) == 304
    assert precondition_status({"if-match": "x"}, "e", 1) == 412
    assert precondition_status({"if-match": "e", "if-none-match": "e"}, "e", 1) == 304
    assert precondition_status({"if-modified-since": date}, "e", 1_700_000_000) == 304
    assert precondition_status({"if-modified-since": date}, "e", 1_700_000_001) is None
    assert precondition_status({"if-unmodified-since": date}, "e", 1_700_000_001) == 412
    assert precondition_status({"if-unmodified-since": "garbage"}, "e", 1_700_000_001) is None
    assert missing_status({"if-match": "*"}) == 412
    assert missing_status({"if-match": "e"}) == 404
