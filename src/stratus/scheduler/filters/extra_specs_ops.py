"""Nova's small language for matching an extra spec against a host's value.

``"<in> sub"`` (substring), ``"<all-in> a b"``, ``"<or> a <or> b"``, ``"s== x"`` and the
other string comparisons, numbers with ``"= 4"`` (at least 4, as Nova reads it), ``"== 4"``,
``"!= 4"``, ``">= 4"``, ``"<= 4"``; anything else must equal the value exactly.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "s==": operator.eq,
    "s!=": operator.ne,
    "s>=": operator.ge,
    "s<=": operator.le,
    "s>": operator.gt,
    "s<": operator.lt,
}
NUMBER_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.ge,  # Nova: "= 4" means "at least 4"
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
}


def matches(value: str, requirement: str) -> bool:
    words = requirement.split()
    if not words:
        return value == requirement
    op, rest = words[0], words[1:]
    if op == "<in>":
        return bool(rest) and " ".join(rest) in value
    if op == "<all-in>":
        return all(word in value.split() for word in rest)
    if op == "<or>":
        return value in _alternatives(requirement)
    if op in STRING_OPS:
        return STRING_OPS[op](value, " ".join(rest))
    if op in NUMBER_OPS:
        return _compare_numbers(NUMBER_OPS[op], value, " ".join(rest))
    return value == requirement


def _alternatives(requirement: str) -> list[str]:
    return [part.strip() for part in requirement.split("<or>") if part.strip()]


def _compare_numbers(compare: Callable[[float, float], bool], value: str, wanted: str) -> bool:
    try:
        return compare(float(value), float(wanted))
    except ValueError:
        return False
