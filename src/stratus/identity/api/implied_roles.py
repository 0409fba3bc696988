"""``/v3/roles/{prior}/implies/{implied}`` and ``/v3/role_inferences``: implied roles.

As in Keystone: a global role cannot imply a domain-specific one, and ``admin`` cannot be
implied (it would make every holder of the prior role a cloud administrator by accident).
A domain-specific role may imply roles of any domain or global ones. Changing a rule
changes what tokens carry, so it clears the validation cache.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Forbidden, InvalidInput, NotFound
from stratus.identity import implied_roles, lookup, views
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
RULE_PATH = "/v3/roles/{prior_role_id}/implies/{implied_role_id}"
PROHIBITED = ("admin",)  # Keystone's [assignment] prohibited_implied_role default


def _ref(base: str, r: m.Role) -> views.Json:
    return {"id": r.id, "name": r.name, "links": {"self": views.url(base, "roles", r.id)}}


def _self_link(base: str, prior_id: str, implied_id: str | None = None) -> dict[str, str]:
    parts = ("roles", prior_id, "implies") + ((implied_id,) if implied_id else ())
    return {"self": views.url(base, *parts)}


async def _pair(s: AsyncSession, req: ApiRequest) -> tuple[m.Role, m.Role]:
    prior = await lookup.get(s, m.Role, req.params["prior_role_id"], "role")
    implied = await lookup.get(s, m.Role, req.params["implied_role_id"], "role")
    return prior, implied


def _rule_body(base: str, prior: m.Role, implied: m.Role) -> views.Json:
    return {
        "role_inference": {"prior_role": _ref(base, prior), "implies": _ref(base, implied)},
        "links": _self_link(base, prior.id, implied.id),
    }


def _check_allowed(prior: m.Role, implied: m.Role) -> None:
    if prior.id == implied.id:
        raise InvalidInput("identity.implied_role.self", "A role cannot imply itself.")
    if implied.name in PROHIBITED and implied.domain_id is None:
        raise Forbidden("identity.implied_role.prohibited", f"{implied.id} cannot be implied.")
    if prior.domain_id is None and implied.domain_id is not None:
        raise Forbidden(
            "identity.implied_role.domain",
            f"Global role {prior.id} cannot imply the domain-specific role {implied.id}.",
        )


@routes.route("PUT", RULE_PATH, rule=ADMIN)
async def create_implied_role(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        prior, implied = await _pair(s, req)
        _check_allowed(prior, implied)
        if await s.get(m.ImpliedRole, (prior.id, implied.id)) is None:
            s.add(m.ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))
            await lookup.flush(s, lookup.conflict("implied_role", "Duplicate entry"))
        body = _rule_body(base_url(req), prior, implied)
    st.changed()
    return json_response(body, status=201)


@routes.route("GET", RULE_PATH, rule=ADMIN_OR_SYSTEM_READER)
async def get_implied_role(req: ApiRequest) -> Response:
    """Show a rule; ``HEAD`` checks it (204)."""
    async with state_of(req).db.session() as s:
        prior, implied = await _pair(s, req)
        if await s.get(m.ImpliedRole, (prior.id, implied.id)) is None:
            raise _no_rule(prior.id, implied.id)
        body = _rule_body(base_url(req), prior, implied)
    if req.raw.method == "HEAD":
        return Response(status_code=204)
    return json_response(body)


def _no_rule(prior_id: str, implied_id: str) -> NotFound:
    return NotFound(
        "identity.implied_role.not_found",
        f"{prior_id} does not imply {implied_id}.",
    )


@routes.route("DELETE", RULE_PATH, rule=ADMIN)
async def delete_implied_role(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        prior, implied = await _pair(s, req)
        rule = await s.get(m.ImpliedRole, (prior.id, implied.id))
        if rule is None:
            raise _no_rule(prior.id, implied.id)
        await s.delete(rule)
    st.changed()
    return Response(status_code=204)


async def _inference(
    s: AsyncSession, base: str, prior: m.Role, implied_ids: list[str]
) -> views.Json:
    query = sa.select(m.Role).where(m.Role.id.in_(implied_ids)).order_by(m.Role.name)
    implied = await lookup.all_of(s, query)
    return {"prior_role": _ref(base, prior), "implies": [_ref(base, r) for r in implied]}


@routes.route("GET", "/v3/roles/{prior_role_id}/implies", rule=ADMIN_OR_SYSTEM_READER)
async def list_implied_roles(req: ApiRequest) -> Response:
    """The roles a role implies directly."""
    base = base_url(req)
    async with state_of(req).db.session() as s:
        prior = await lookup.get(s, m.Role, req.params["prior_role_id"], "role")
        rules = await implied_roles.load_rules(s)
        inference = await _inference(s, base, prior, rules.get(prior.id, []))
    return json_response({"role_inference": inference, "links": _self_link(base, prior.id)})


@routes.route("GET", "/v3/role_inferences", rule=ADMIN_OR_SYSTEM_READER)
async def list_role_inference_rules(req: ApiRequest) -> Response:
    """Every rule, grouped by prior role."""
    base = base_url(req)
    async with state_of(req).db.session() as s:
        rules = await implied_roles.load_rules(s)
        priors = await lookup.all_of(s, sa.select(m.Role).where(m.Role.id.in_(list(rules))))
        items = [await _inference(s, base, p, rules[p.id]) for p in priors]
    return json_response(
        {"role_inferences": items, "links": {"self": views.url(base, "role_inferences")}}
    )
