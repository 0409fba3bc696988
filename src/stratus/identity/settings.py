"""Identity service settings."""

from __future__ import annotations

from pydantic import Field

from stratus.common.config import Section


class IdentitySettings(Section):
    port: int = Field(default=5000, ge=1, le=65535, description="Port of the Keystone v3 API.")
    database_url: str = Field(default="", description="Overrides [database].url for identity.")
    key_repository: str = Field(
        default="",
        description="Directory of token keys (Fernet-style, rotated); every identity node "
        "and every service that validates tokens must share it. Default: <state_dir>/keys/token.",
    )
    credential_key_repository: str = Field(
        default="",
        description="Directory of the keys that encrypt stored EC2 secrets. "
        "Default: <state_dir>/keys/credential.",
    )
    max_active_keys: int = Field(default=3, ge=2, description="Token keys kept across rotations.")
    token_expiration: int = Field(default=3600, ge=60, description="Token lifetime in seconds.")
    validation_cache_ttl: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a validated token's answer is reused. Every identity write and "
        "revocation is fanned out over the bus and clears every node's cache at once; "
        "without a bus, nodes poll for revocations every few seconds.",
    )
    region: str = Field(default="RegionOne", description="Region named in the catalog.")
    password_hash_memory_kib: int = Field(
        default=19456, ge=8192, description="Argon2id memory cost per password hash."
    )
    password_hash_iterations: int = Field(default=2, ge=1, description="Argon2id time cost.")
