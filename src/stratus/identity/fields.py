"""Input types with Keystone's validation rules, shared by the identity request models.

Keystone's JSON schemas decide what a client may send; these reproduce them so the same
request gets the same answer: ids are ``[a-zA-Z0-9-]{1,64}``, names hold a non-blank
character and fit the column, booleans are JSON booleans or ``"true"``/``"false"`` spelt
as Keystone accepts them, and query-string flags read as Keystone reads them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from stratus.common.errors import Forbidden, InvalidInput

# Request bodies: the envelope never takes unknown keys; entities that Keystone extends
# with free attributes keep them (``extra="allow"``) and store them in ``extra``.
STRICT = ConfigDict(extra="forbid", strict=False, str_max_length=65535)
EXTENSIBLE = ConfigDict(extra="allow", strict=False, str_max_length=65535)

_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


def _keystone_bool(value: Any) -> Any:
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    return value


KsBool = Annotated[StrictBool, BeforeValidator(_keystone_bool)]
Id = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-]+$")
]
Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255, pattern=r"\S")]
ShortName = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=r"\S")
]
Description = Annotated[str, StringConstraints(strict=True, max_length=65535)]
RegionId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255)]
Tag = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=255, pattern=r"^[^,/]*$")
]


def _unique(tags: list[str]) -> list[str]:
    if len(set(tags)) != len(tags):
        raise ValueError("tags must be unique")
    return tags


Tags = Annotated[list[Tag], Field(max_length=80), AfterValidator(_unique)]


def flag(value: str | None) -> bool:
    """A query flag such as ``?effective``: present means true unless it says 0 or false."""
    if value is None:
        return False
    return value.strip().lower() not in ("0", "false")


def bool_filter(value: str | None) -> bool | None:
    """``?enabled=`` as Keystone reads it: false-like words are false, anything else true."""
    if value is None:
        return None
    return value.strip().lower() not in ("0", "false", "f", "no", "n", "off")


def check_update(body: BaseModel, current: str) -> None:
    """An update must change something (Keystone's ``minProperties: 1``), not the ``id``."""
    extra = body.model_extra or {}
    if not body.model_fields_set and not extra:
        raise InvalidInput("request.invalid", "The update body has no properties to change.")
    given = extra.get("id", getattr(body, "id", None))
    if given is not None and given != current:
        raise InvalidInput("identity.id_change", "Cannot change the ID of an entity.")


READ_ONLY = frozenset({"id", "links"})


def extras(
    model_extra: dict[str, Any] | None, reserved: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The free attributes of an extensible entity, without the read-only ones."""
    return {k: v for k, v in (model_extra or {}).items() if k not in READ_ONLY | reserved}


class ResourceOptions(BaseModel):
    """Keystone's resource options for projects, domains and roles: only ``immutable``."""

    model_config = STRICT
    immutable: KsBool | None = None


def merged_options(current: dict[str, Any], change: BaseModel | None) -> dict[str, Any]:
    """Options after an update: a ``null`` value removes the option, as in Keystone."""
    out = dict(current)
    if change is not None:
        for key, value in change.model_dump(exclude_unset=True).items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
    return out


def assert_mutable(
    kind: str, ident: str, options: dict[str, Any], change: ResourceOptions | None = None
) -> None:
    """An immutable resource refuses every change except clearing ``immutable`` itself."""
    if not options.get("immutable"):
        return
    if change is not None and change.immutable is False:
        return
    raise Forbidden(
        f"identity.{kind}.immutable",
        f"Resource {kind} {ident} is immutable; set options.immutable to false first.",
    )
