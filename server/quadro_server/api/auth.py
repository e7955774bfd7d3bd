"""Who is calling, and what they may do.

Principals come from API tokens sent as request metadata (`authorization: Bearer
TOKEN`), defined in a config file that stores only each token's SHA-256. A principal
has roles, which grant capabilities, and scopes: the tenants whose boards it may see.
A board's scope is the part of its id before the dot (`acme.claims` is in `acme`; an id
without a dot is in the default scope, named ""), so a request's scopes are known from
its resource names alone, before anything is read.

With no config the server has one principal, `anonymous`, with every role and scope.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quadro import reasons
from quadro_server.core import names
from quadro_server.core.errors import Unauthenticated

ANONYMOUS = "anonymous"
# Scopes of a principal that may see every tenant.
ALL = "*"
TOKEN_PREFIX = "qd_"


class Capability(enum.Enum):
    READ = "read"  # every read and stream
    POST = "post"  # post tasks
    DISPATCH = "dispatch"  # move, assign, hand off and archive any task
    WORK = "work"  # register itself, heartbeat, and finish its own assigned tasks
    DATA = "data"  # write the board's key-value store
    CHIEFS = "chiefs"  # register Chiefs and record their cycles
    ADMIN = "admin"  # create boards and their lifecycles


ROLES: Mapping[str, frozenset[Capability]] = {
    "reader": frozenset({Capability.READ}),
    "producer": frozenset({Capability.READ, Capability.POST, Capability.DATA}),
    "worker": frozenset({Capability.READ, Capability.WORK, Capability.DATA}),
    "chief": frozenset(
        {Capability.READ, Capability.POST, Capability.DISPATCH, Capability.DATA, Capability.CHIEFS}
    ),
    "admin": frozenset(Capability),
}


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]
    # None: every scope.
    scopes: frozenset[str] | None
    # Agent ids a worker acts as; by default its own name.
    agents: frozenset[str] = field(default_factory=frozenset)
    capabilities: frozenset[Capability] = field(init=False)

    def __post_init__(self) -> None:
        granted = frozenset(c for role in self.roles for c in ROLES[role])
        object.__setattr__(self, "capabilities", granted)

    def sees(self, board_id: str) -> bool:
        return self.scopes is None or names.scope_of(board_id) in self.scopes

    def may(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @property
    def scoped(self) -> bool:
        return self.scopes is not None

    def only_own_work(self) -> bool:
        """A worker without dispatch rights: it may touch only tasks assigned to it."""
        return Capability.WORK in self.capabilities and Capability.DISPATCH not in self.capabilities

    def acts_as(self, agent_id: str) -> bool:
        return agent_id in self.agents


ANONYMOUS_PRINCIPAL = Principal(ANONYMOUS, frozenset(ROLES), None)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh API token: 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class Authenticator:
    """Principals by the hash of their token."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self._by_hash = dict(principals)

    @classmethod
    def from_file(cls, path: str | Path) -> Authenticator:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        return cls(parse_config(document, str(path)))

    def add(self, token: str, principal: Principal) -> None:
        """Add a principal known only to this process (the server's own companions)."""
        self._by_hash[hash_token(token)] = principal

    def authenticate(self, metadata: Sequence[tuple[str, Any]] | None) -> Principal:
        token = bearer_token(metadata)
        if token is None:
            raise Unauthenticated(
                "this server requires an API token: send `authorization: Bearer TOKEN`",
                reason=reasons.MISSING_TOKEN,
            )
        principal = self._by_hash.get(hash_token(token))
        if principal is None:
            raise Unauthenticated("the API token is not valid", reason=reasons.INVALID_TOKEN)
        return principal


def bearer_token(metadata: Sequence[tuple[str, Any]] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class ConfigError(ValueError):
    """The auth config file is unusable; the message says where and why."""


def parse_config(document: Any, source: str) -> dict[str, Principal]:
    """Principals by token hash, from the config document:

    principals:
      - name: intake-worker-1
        token_sha256: 5e884898da28047151d0e56f8dc62927...
        roles: [worker]
        scopes: [acme]          # or ["*"] for every tenant; "" is the default scope
        agents: [validator-1]   # worker role: the agent ids it acts as (default: name)
    """
    if not isinstance(document, dict) or not isinstance(document.get("principals"), list):
        raise ConfigError(f"{source}: expected a mapping with a list `principals`")
    found: dict[str, Principal] = {}
    seen: set[str] = set()
    for index, entry in enumerate(document["principals"]):
        where = f"{source}: principals[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = set(entry) - {"name", "token_sha256", "roles", "scopes", "agents"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        name = _text(entry, "name", where)
        if name in seen:
            raise ConfigError(f"{where}: principal {name!r} is defined twice")
        seen.add(name)
        digest = _text(entry, "token_sha256", where).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(f"{where}: token_sha256 must be 64 hex digits")
        if digest in found:
            raise ConfigError(f"{where}: the same token is given to two principals")
        roles = _texts(entry, "roles", where)
        bad = sorted(set(roles) - set(ROLES))
        if bad or not roles:
            raise ConfigError(
                f"{where}: roles must be some of {', '.join(ROLES)} (got {roles or 'none'})"
            )
        scopes = _texts(entry, "scopes", where)
        if not scopes:
            raise ConfigError(f'{where}: give scopes (tenants), or ["*"] for all')
        for scope in scopes:
            if scope not in (ALL, "") and names.check_scope(scope):
                raise ConfigError(f"{where}: scope {scope!r}: {names.check_scope(scope)}")
        agents = _texts(entry, "agents", where) if "agents" in entry else [name]
        found[digest] = Principal(
            name,
            frozenset(roles),
            None if ALL in scopes else frozenset(scopes),
            frozenset(agents),
        )
    return found


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: `{key}` must be a non-empty string")
    return value


def _texts(entry: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings")
    return list(value)


def principals_line(name: str, token: str, roles: Iterable[str], scopes: Iterable[str]) -> str:
    """A config entry for a new token, as `quadro auth token` prints it."""
    entry = {
        "name": name,
        "token_sha256": hash_token(token),
        "roles": list(roles),
        "scopes": list(scopes),
    }
    return yaml.safe_dump([entry], sort_keys=False).rstrip()
