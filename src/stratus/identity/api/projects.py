"""``/v3/projects`` and ``/v3/projects/{id}/tags``.

Projects form a tree inside one domain. As in Keystone a top-level project reports its
domain as ``parent_id``, only leaves can be deleted, a project can be disabled only once
its subtree is, and a project cannot move (``domain_id``/``parent_id`` are fixed).
``/v3/users/{id}/projects`` lives in ``users.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import (
    ADMIN,
    ADMIN_OR_SYSTEM_READER,
    SYSTEM_READER,
    param_is_own_project,
)
from stratus.common.asgi.routing import ApiRequest, Routes, json_response, parse_model
from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden, InvalidInput, NotFound
from stratus.identity import cascade, lookup, revocation, views
from stratus.identity import fields as f
from stratus.identity import models as m
from stratus.identity.effective_roles import ancestors
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
OWN = ADMIN | param_is_own_project()
MAX_DEPTH = 5  # Keystone's default max_project_tree_depth


class ProjectCreate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.ShortName
    domain_id: f.Id | None = None
    parent_id: f.Id | None = None
    description: f.Description | None = None
    enabled: f.KsBool = True
    is_domain: f.KsBool = False
    tags: f.Tags | None = None
    options: f.ResourceOptions | None = None


class ProjectUpdate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.ShortName | None = None
    description: f.Description | None = None
    enabled: f.KsBool | None = None
    tags: f.Tags | None = None
    options: f.ResourceOptions | None = None
    domain_id: Any = None  # accepted only when unchanged
    parent_id: Any = None
    is_domain: Any = None


class CreateBody(BaseModel):
    model_config = f.STRICT
    project: ProjectCreate


class UpdateBody(BaseModel):
    model_config = f.STRICT
    project: ProjectUpdate


class TagsBody(BaseModel):
    model_config = f.STRICT
    tags: f.Tags


async def _placement(
    s: AsyncSession, body: ProjectCreate, ctx: RequestContext
) -> tuple[str, str | None]:
    """The (domain_id, parent_id) of a new project; a parent may be a domain (top level)."""
    if body.is_domain:
        raise InvalidInput(
            "identity.project.is_domain", "Projects acting as domains are created with /v3/domains."
        )
    if body.parent_id is None:
        domain_id = body.domain_id or ctx.project_domain_id or ctx.domain_id or "default"
        await lookup.referenced(s, m.Domain, domain_id, "domain")
        return domain_id, None
    parent = await s.get(m.Project, body.parent_id)
    if parent is None:
        await lookup.referenced(s, m.Domain, body.parent_id, "project")
        domain_id, parent_id = body.parent_id, None
    else:
        await _check_parent(s, parent)
        domain_id, parent_id = parent.domain_id, parent.id
    if body.domain_id is not None and body.domain_id != domain_id:
        raise InvalidInput(
            "identity.project.domain_mismatch",
            "The project's domain_id must be the domain of its parent.",
        )
    return domain_id, parent_id


async def _check_parent(s: AsyncSession, parent: m.Project) -> None:
    if not parent.enabled:
        raise InvalidInput(
            "identity.project.parent_disabled",
            "Cannot create a project in a branch containing a disabled project.",
        )
    if len(await ancestors(s, parent)) + 2 > MAX_DEPTH:
        raise Forbidden(
            "identity.project.too_deep", f"Max hierarchy depth reached for {parent.id} branch."
        )


def _tag_filter(req: ApiRequest, rows: list[m.Project]) -> list[m.Project]:
    """``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``: comma-separated tag lists."""

    def wanted(name: str) -> set[str] | None:
        value = req.query.get(name)
        return None if value is None else {t for t in value.split(",") if t}

    all_of, any_of = wanted("tags"), wanted("tags-any")
    not_all, not_any = wanted("not-tags"), wanted("not-tags-any")
    out = []
    for p in rows:
        have = set(p.tags)
        if all_of is not None and not all_of <= have:
            continue
        if any_of is not None and not any_of & have:
            continue
        if not_all is not None and not_all <= have:
            continue
        if not_any is not None and not_any & have:
            continue
        out.append(p)
    return out


def _list_query(req: ApiRequest, domain_ids: set[str]) -> sa.Select[m.Project]:
    query = sa.select(m.Project).order_by(m.Project.name)
    q = req.query
    if (name := q.get("name")) is not None:
        query = query.where(m.Project.name == name)
    if (domain_id := q.get("domain_id")) is not None:
        query = query.where(m.Project.domain_id == domain_id)
    if (enabled := f.bool_filter(q.get("enabled"))) is not None:
        query = query.where(m.Project.enabled.is_(enabled))
    if (parent_id := q.get("parent_id")) is not None:
        if parent_id in domain_ids:
            query = query.where(m.Project.parent_id.is_(None), m.Project.domain_id == parent_id)
        else:
            query = query.where(m.Project.parent_id == parent_id)
    return query


@routes.route("GET", "/v3/projects", rule=ADMIN_OR_SYSTEM_READER)
async def list_projects(req: ApiRequest) -> Response:
    """List projects; filters ``name``, ``domain_id``, ``enabled``, ``parent_id``, tags."""
    rows: list[m.Project] = []
    if not f.flag(req.query.get("is_domain")):
        async with state_of(req).db.session() as s:
            parent = req.query.get("parent_id")
            domains: set[str] = set()
            if parent and await s.get(m.Domain, parent) is not None:
                domains.add(parent)
            rows = _tag_filter(req, await lookup.all_of(s, _list_query(req, domains)))
    base = base_url(req)
    items = (views.project(base, p) for p in rows)
    return json_response(views.collection("projects", items, str(req.raw.url)))


@routes.route("POST", "/v3/projects", rule=ADMIN)
async def create_project(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).project
    async with state_of(req).db.session() as s:
        domain_id, parent_id = await _placement(s, body, req.ctx)
        clash = lookup.duplicate_name("project", body.name, domain_id)
        same = sa.select(m.Project).where(
            m.Project.domain_id == domain_id, m.Project.name == body.name
        )
        if await lookup.first(s, same):
            raise clash
        extra = f.extras(body.model_extra)
        extra["options"] = f.merged_options({}, body.options)
        row = m.Project(
            name=body.name,
            domain_id=domain_id,
            parent_id=parent_id,
            description=body.description or "",
            enabled=body.enabled,
            tags=body.tags or [],
            extra=extra,
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"project": views.project(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/projects/{project_id}", rule=OWN | SYSTEM_READER)
async def get_project(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
    return json_response({"project": views.project(base_url(req), row)})


def _fixed_fields(body: ProjectUpdate, row: m.Project) -> None:
    """Keystone refuses moving a project or turning it into a domain."""
    sent = body.model_fields_set
    if "domain_id" in sent and body.domain_id != row.domain_id:
        raise InvalidInput(
            "identity.project.domain_change", "Cannot update domain_id of a project."
        )
    if "parent_id" in sent and body.parent_id != (row.parent_id or row.domain_id):
        raise Forbidden("identity.project.parent_change", "Update of parent_id is not allowed.")
    if "is_domain" in sent and body.is_domain not in (False, "false", "False", "FALSE"):
        raise InvalidInput("identity.project.is_domain", "Update of is_domain is not allowed.")


async def _rename(s: AsyncSession, row: m.Project, name: str | None) -> None:
    if name is None or name == row.name:
        return
    same = sa.select(m.Project).where(m.Project.domain_id == row.domain_id, m.Project.name == name)
    if await lookup.first(s, same):
        raise lookup.duplicate_name("project", name, row.domain_id)
    row.name = name


async def _set_enabled(s: AsyncSession, row: m.Project, enabled: bool | None) -> bool:
    """Apply ``enabled``; return whether the project is being disabled."""
    if enabled is None or enabled == row.enabled:
        return False
    if enabled is False:
        children = sa.select(m.Project).where(
            m.Project.parent_id == row.id, m.Project.enabled.is_(True)
        )
        if await lookup.first(s, children):
            raise Forbidden(
                "identity.project.enabled_subtree",
                f"Cannot disable project {row.id} since its subtree contains enabled projects.",
            )
        await revocation.revoke_project(s, row.id)
    elif row.parent_id is not None:
        parent = await s.get(m.Project, row.parent_id)
        if parent is not None and not parent.enabled:
            raise Forbidden(
                "identity.project.disabled_parent",
                f"Cannot enable project {row.id} since it has disabled parents.",
            )
    row.enabled = enabled
    return not enabled


@routes.route("PATCH", "/v3/projects/{project_id}", rule=ADMIN)
async def update_project(req: ApiRequest) -> Response:
    """Update a project; disabling it ends the tokens scoped to it."""
    body = (await req.model(UpdateBody)).project
    f.check_update(body, req.params["project_id"])
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
        options = dict(row.extra.get("options", {}))
        f.assert_mutable("project", row.id, options, body.options)
        _fixed_fields(body, row)
        await _rename(s, row, body.name)
        if "description" in body.model_fields_set:
            row.description = body.description or ""
        disabled = await _set_enabled(s, row, body.enabled)
        if body.tags is not None:
            row.tags = body.tags
        row.extra = {
            **row.extra,
            **f.extras(body.model_extra),
            "options": f.merged_options(options, body.options),
        }
        await lookup.flush(s, lookup.duplicate_name("project", row.name, row.domain_id))
    if disabled:
        st.changed()
    return json_response({"project": views.project(base_url(req), row)})


@routes.route("DELETE", "/v3/projects/{project_id}", rule=ADMIN)
async def delete_project(req: ApiRequest) -> Response:
    """Delete a leaf project with its grants and credentials; its tokens stop working."""
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
        f.assert_mutable("project", row.id, row.extra.get("options", {}))
        if await lookup.first(s, sa.select(m.Project).where(m.Project.parent_id == row.id)):
            raise Forbidden(
                "identity.project.not_leaf",
                f"Cannot delete the project {row.id} since it is not a leaf in the hierarchy.",
            )
        await cascade.delete_projects(s, [row.id])
    st.changed()
    return Response(status_code=204)


def _tags_body(req: ApiRequest, tags: list[str]) -> Response:
    return json_response({"tags": tags, "links": {"self": str(req.raw.url)}})


@routes.route("GET", "/v3/projects/{project_id}/tags", rule=OWN | SYSTEM_READER)
async def list_tags(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
    return _tags_body(req, list(row.tags))


@routes.route("PUT", "/v3/projects/{project_id}/tags", rule=ADMIN)
async def replace_tags(req: ApiRequest) -> Response:
    tags = (await req.model(TagsBody)).tags
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
        row.tags = tags
    return _tags_body(req, tags)


@routes.route("DELETE", "/v3/projects/{project_id}/tags", rule=ADMIN)
async def clear_tags(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
        row.tags = []
    return Response(status_code=204)


@routes.route("GET", "/v3/projects/{project_id}/tags/{tag}", rule=OWN | SYSTEM_READER)
async def check_tag(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
    if req.params["tag"] not in row.tags:
        raise NotFound("identity.project_tag.not_found", f"Tag {req.params['tag']} not found.")
    return Response(status_code=204)


@routes.route("PUT", "/v3/projects/{project_id}/tags/{tag}", rule=ADMIN)
async def add_tag(req: ApiRequest) -> Response:
    tag = req.params["tag"]
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
        tags = list(row.tags) if tag in row.tags else [*row.tags, tag]
        row.tags = parse_model(TagsBody, {"tags": tags}).tags
    # A tag may hold any character but ',' and '/': quote it, or a header cannot carry it.
    location = views.url(base_url(req), "projects", row.id, "tags", quote(tag, safe=""))
    return Response(status_code=201, headers={"Location": location})


@routes.route("DELETE", "/v3/projects/{project_id}/tags/{tag}", rule=ADMIN)
async def remove_tag(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Project, req.params["project_id"], "project")
        if req.params["tag"] not in row.tags:
            raise NotFound("identity.project_tag.not_found", f"Tag {req.params['tag']} not found.")
        row.tags = [t for t in row.tags if t != req.params["tag"]]
    return Response(status_code=204)
