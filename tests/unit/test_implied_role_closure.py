"""Implied-role expansion: transitive, cycle-safe, and it says which role implied which."""

from __future__ import annotations

from stratus.identity.implied_roles import closure


def test_closure_follows_rules_transitively() -> None:
    rules = {"a": ["b", "c"], "c": ["d"]}
    assert closure(rules, ["a"]) == {"a": None, "b": "a", "c": "a", "d": "c"}


def test_closure_survives_a_cycle() -> None:
    rules = {"a": ["b"], "b": ["a"]}
    assert closure(rules, ["a"]) == {"a": None, "b": "a"}


def test_roles_given_stay_direct_even_when_also_implied() -> None:
    assert closure({"a": ["b"]}, ["a", "b"]) == {"a": None, "b": None}


def test_no_rules_no_change() -> None:
    assert closure({}, ["x"]) == {"x": None}
