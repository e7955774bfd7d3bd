"""The auth config: principals by token hash, with their roles, scopes and agents; and
every way a config can be wrong, named."""

from __future__ import annotations

import pytest

from quadro_server.api.auth import (
    Authenticator,
    Capability,
    ConfigError,
    hash_token,
    new_token,
    parse_config,
)
from quadro_server.core.errors import Unauthenticated


def entry(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "w",
        "token_sha256": hash_token("secret"),
        "roles": ["worker"],
        "scopes": ["acme"],
    }
    return {**base, **fields}


def test_principals_by_token_hash() -> None:
    found = parse_config(
        {
            "principals": [
                entry(),
                entry(name="ops", token_sha256=hash_token("other"), roles=["admin"], scopes=["*"]),
            ]
        },
        "auth.yaml",
    )
    worker, ops = found[hash_token("secret")], found[hash_token("other")]
    assert worker.agents == frozenset({"w"})  # a worker acts as its own name by default
    assert worker.sees("acme.claims")
    assert not worker.sees("globex.claims")
    assert not worker.sees("claims")  # the default scope is a scope like any other
    assert worker.only_own_work()
    assert not worker.may(Capability.DISPATCH)
    assert ops.scopes is None
    assert ops.sees("anything.at-all")
    assert not ops.only_own_work()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, "list `principals`"),
        ({"principals": [entry(roles=["boss"])]}, "roles must be some of"),
        ({"principals": [entry(scopes=[])]}, "give scopes"),
        ({"principals": [entry(scopes=["Bad Scope"])]}, "scope 'Bad Scope'"),
        ({"principals": [entry(token_sha256="abc")]}, "64 hex digits"),
        ({"principals": [entry(colour="red")]}, "unknown keys colour"),
        ({"principals": [entry(), entry()]}, "defined twice"),
        ({"principals": [entry(), entry(name="x")]}, "the same token"),
    ],
)
def test_bad_configs_are_named(document: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=r"auth\.yaml") as caught:
        parse_config(document, "auth.yaml")
    assert expected in str(caught.value)


def test_authentication() -> None:
    token = new_token()
    auth = Authenticator(parse_config({"principals": [entry(token_sha256=hash_token(token))]}, "a"))
    assert auth.authenticate([("authorization", f"Bearer {token}")]).name == "w"
    assert auth.authenticate([("x", "y"), ("authorization", f"bearer  {token} ")]).name == "w"
    for metadata in ([], [("authorization", token)], [("authorization", "Bearer qd_wrong")]):
        with pytest.raises(Unauthenticated):
            auth.authenticate(metadata)
    assert token.startswith("qd_")
    assert len(token) > 40
