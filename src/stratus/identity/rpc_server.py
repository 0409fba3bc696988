"""Identity's side of ``ValidateToken`` and ``IssueToken``: the same validator and the same
issuing path as the Keystone API, so a token means the same thing over RPC as over HTTP.

Both run with no caller check: the bus is the cloud's internal network, and the answers
give nothing that the token or password itself does not already prove.
"""

from __future__ import annotations

from stratus.common.context import RequestContext
from stratus.common.rpc import Dispatcher
from stratus.identity.api import auth
from stratus.identity.grants import ValidatedToken
from stratus.identity.models import Domain
from stratus.identity.rpc import IssuedToken, IssueToken, TokenInfo, ValidateToken
from stratus.identity.state import IdentityState


def identity_dispatcher(st: IdentityState) -> Dispatcher:
    """The handlers served on ``IDENTITY_TOPIC`` by every identity node."""
    dispatcher = Dispatcher()

    @dispatcher.handler(ValidateToken)
    async def validate_token(ctx: RequestContext, msg: ValidateToken) -> TokenInfo:
        return token_info(await st.validator.validate(msg.token))

    @dispatcher.handler(IssueToken)
    async def issue_token(ctx: RequestContext, msg: IssueToken) -> IssuedToken:
        token, validated = await auth.issue_token(st, await _password_auth(st, msg))
        info = token_info(validated)
        return IssuedToken(token=token, expires_at=info.expires_at, info=info)

    return dispatcher


def token_info(validated: ValidatedToken) -> TokenInfo:
    """The wire form of what a token grants (no catalog: API services do not need it)."""
    p, ctx = validated.payload, validated.context()
    project, domain = validated.project, validated.domain
    return TokenInfo(
        user_id=validated.user.id,
        user_name=validated.user.name,
        user_domain_id=validated.user.domain.id,
        user_domain_name=validated.user.domain.name,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        project_domain_id=project.domain.id if project else None,
        project_domain_name=project.domain.name if project else None,
        domain_id=domain.id if domain else None,
        domain_name=domain.name if domain else None,
        system_scope=ctx.system_scope,
        roles=list(ctx.roles),
        methods=list(p.methods),
        app_cred_id=p.app_cred_id,
        issued_at=p.issued_at,
        expires_at=p.expires_at,
        audit_ids=list(p.audit_ids),
        is_admin_project=ctx.is_admin_project,
    )


async def _password_auth(st: IdentityState, msg: IssueToken) -> auth.Auth:
    """The ``POST /v3/auth/tokens`` body a password login with these fields would send."""
    user = auth.UserRef(
        name=msg.user_name,
        domain=await _domain_ref(st, msg.user_domain),
        password=msg.password,
    )
    scope: auth.ScopeRef | None = None
    if msg.project_name is not None:
        project = auth.ProjectRef(
            name=msg.project_name, domain=await _domain_ref(st, msg.project_domain)
        )
        scope = auth.ScopeRef(project=project)
    identity = auth.Identity(methods=["password"], password=auth.PasswordMethod(user=user))
    return auth.Auth(identity=identity, scope=scope)


async def _domain_ref(st: IdentityState, id_or_name: str) -> auth.DomainRef:
    """A domain given by id or by name (``default`` and ``Default`` both name the default
    domain); an unknown one stays a name, which then matches no user: the usual 401."""
    async with st.db.session() as session:
        found = await session.get(Domain, id_or_name)
    return auth.DomainRef(id=id_or_name) if found is not None else auth.DomainRef(name=id_or_name)
