"""`quadro serve`: the board server, contributed to the `quadro` command."""

from __future__ import annotations

import argparse
import asyncio
import functools
import ipaddress
import logging
import os
import sys
from importlib import metadata
from typing import Any

from quadro import limits
from quadro_server.api import convert
from quadro_server.api.auth import Authenticator, ConfigError
from quadro_server.api.server import ServerTls, serve_until_signalled
from quadro_server.api.services.context import ServiceContext
from quadro_server.api.streams import StreamLimits
from quadro_server.storage import AHEAD_MIN, MAX_BATCH, PIPELINE_DEPTH, describe, open_store
from quadro_server.storage.sqlite import Durability
from quadro_server.streaming.hub import EventHub

COMPANIONS = "quadro.serve.companions"

EXAMPLES = """\
examples:
  quadro serve                              # loopback:50051, ./quadro.db
  quadro serve --port 0                     # any free port (printed on start)
  quadro serve --store /var/lib/quadro.db --durability fast
  quadro serve --store postgresql://quadro@db:5432/quadro  # one of several replicas
  QUADRO_PORT=6000 quadro serve
  quadro serve --host 0.0.0.0 --auth-config auth.yaml --tls-cert srv.pem --tls-key srv.key

environment: QUADRO_HOST, QUADRO_PORT, QUADRO_STORE, QUADRO_DURABILITY,
QUADRO_MAX_BATCH, QUADRO_PIPELINE_DEPTH, QUADRO_AHEAD_MIN, QUADRO_SHUTDOWN_GRACE,
QUADRO_AGENT_OFFLINE_AFTER, QUADRO_MAX_STREAMS, QUADRO_MAX_STREAMS_PER_CALLER,
QUADRO_STREAM_WINDOW, QUADRO_AUTH_CONFIG, QUADRO_TLS_CERT, QUADRO_TLS_KEY,
QUADRO_TLS_CLIENT_CA (each overridden by its flag)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run a board server",
        description="Run the Quadro board server (gRPC, with reflection and health).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env = os.environ.get
    parser.add_argument(
        "--host",
        default=env("QUADRO_HOST", "127.0.0.1"),
        help="address to bind (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(env("QUADRO_PORT", "50051")),
        help="port to bind; 0 picks a free one (default 50051)",
    )
    parser.add_argument(
        "--store",
        default=env("QUADRO_STORE", "quadro.db"),
        help="SQLite database file (default ./quadro.db), or a PostgreSQL URL "
        "(postgresql://user@host:5432/database) shared by any number of replicas",
    )
    parser.add_argument(
        "--durability",
        choices=[d.value for d in Durability],
        default=env("QUADRO_DURABILITY", Durability.FULL.value),
        help="full (default): an acknowledged write survives power loss; fast: it survives "
        "a crash of the server but a power loss may lose the last writes (SQLite only: "
        "PostgreSQL follows its own fsync and synchronous_commit settings)",
    )
    _count_option(
        parser,
        "--max-batch",
        MAX_BATCH,
        "the most commands one commit applies: calls that arrive while a commit runs "
        f"share the next, up to N (default {MAX_BATCH}); a batch call's items always "
        "share one, and 1 commits every other call on its own",
    )
    _count_option(
        parser,
        "--pipeline-depth",
        PIPELINE_DEPTH,
        "PostgreSQL: batches in flight at once; the next batch is decided and sent "
        "while the database commits the last (default "
        f"{PIPELINE_DEPTH}; 1 sends each batch once the last has committed)",
    )
    _count_option(
        parser,
        "--ahead-min",
        AHEAD_MIN,
        "PostgreSQL: the fewest commands a batch needs to be sent ahead of one in "
        "flight; a smaller one waits for that one to commit and leaves with what came "
        f"meanwhile (default {AHEAD_MIN}; 1 sends every batch as soon as there is room)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=float(env("QUADRO_SHUTDOWN_GRACE", "10")),
        help="seconds running calls get to finish on SIGTERM (default 10)",
    )
    parser.add_argument(
        "--agent-offline-after",
        type=float,
        default=float(env("QUADRO_AGENT_OFFLINE_AFTER", "60")),
        help="seconds without a heartbeat before an idle agent shows OFFLINE",
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=int(env("QUADRO_MAX_STREAMS", str(limits.STREAMS_PER_SERVER_DEFAULT))),
        help="concurrent subscriptions this server serves "
        f"(default {limits.STREAMS_PER_SERVER_DEFAULT})",
    )
    parser.add_argument(
        "--max-streams-per-caller",
        type=int,
        default=int(
            env("QUADRO_MAX_STREAMS_PER_CALLER", str(limits.STREAMS_PER_PRINCIPAL_DEFAULT))
        ),
        help="concurrent subscriptions of one caller "
        f"(default {limits.STREAMS_PER_PRINCIPAL_DEFAULT})",
    )
    parser.add_argument(
        "--stream-window",
        type=int,
        default=int(env("QUADRO_STREAM_WINDOW", "8192")),
        help="recent events kept in memory per board for live subscribers; those further "
        "behind read from the store (default 8192)",
    )
    parser.add_argument(
        "--auth-config",
        default=env("QUADRO_AUTH_CONFIG"),
        help="YAML file of API tokens (as SHA-256 hashes) with their roles and scopes; "
        "without it every caller is anonymous with full access (see `quadro auth`)",
    )
    parser.add_argument(
        "--tls-cert", default=env("QUADRO_TLS_CERT"), help="server certificate chain (PEM)"
    )
    parser.add_argument("--tls-key", default=env("QUADRO_TLS_KEY"), help="server key (PEM)")
    parser.add_argument(
        "--tls-client-ca",
        default=env("QUADRO_TLS_CLIENT_CA"),
        help="CA (PEM) that signs client certificates: mutual TLS, every client must present one",
    )
    parser.add_argument(
        "--allow-remote-without-auth",
        action="store_true",
        help="bind a non-loopback address although no authentication is "
        "configured (anyone who can reach the port can do anything)",
    )
    parser.add_argument("--log-level", default=env("QUADRO_LOG_LEVEL", "INFO"))
    companions = load_companions()
    for companion in companions:
        companion.add_serve_arguments(parser)
    parser.set_defaults(handler=run, companions=companions)


# Options counting what there must be at least one of: checked before anything opens.
_COUNTS = ("--max-batch", "--pipeline-depth", "--ahead-min")


def _count_option(parser: argparse.ArgumentParser, flag: str, default: int, help: str) -> None:
    """`--flag N`, defaulting to $QUADRO_FLAG, then `default`."""
    variable = "QUADRO_" + flag.removeprefix("--").upper().replace("-", "_")
    parser.add_argument(
        flag, type=int, default=int(os.environ.get(variable, str(default))), metavar="N", help=help
    )


def load_companions() -> list[Any]:
    """Modules that run beside the server in its process, as clients of it (the
    Ombudsman): each offers `add_serve_arguments(parser)` and `serve_companion(args,
    client)`. Found through an entry-point group, so that the server imports none of
    them."""
    return [e.load() for e in sorted(metadata.entry_points(group=COMPANIONS), key=lambda e: e.name)]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tls(args: argparse.Namespace) -> ServerTls | None:
    if not (args.tls_cert or args.tls_key or args.tls_client_ca):
        return None
    if not (args.tls_cert and args.tls_key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    with open(args.tls_cert, "rb") as cert, open(args.tls_key, "rb") as key:
        chain, private_key = cert.read(), key.read()
    client_ca = None
    if args.tls_client_ca:
        with open(args.tls_client_ca, "rb") as ca:
            client_ca = ca.read()
    return ServerTls(chain, private_key, client_ca)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("quadro.serve")
    try:
        auth = Authenticator.from_file(args.auth_config) if args.auth_config else None
        tls = _tls(args)
    except (ConfigError, OSError) as exc:
        print(f"quadro serve: {exc}", file=sys.stderr)
        return 2
    for flag in _COUNTS:
        if getattr(args, flag.removeprefix("--").replace("-", "_")) < 1:
            print(f"quadro serve: {flag} must be at least 1", file=sys.stderr)
            return 2
    if auth is None and not _is_loopback(args.host):
        if not args.allow_remote_without_auth:
            print(
                f"quadro serve: refusing to bind {args.host}: no authentication is configured, "
                "so only loopback addresses are allowed. Pass --allow-remote-without-auth to "
                "expose an unauthenticated server anyway.",
                file=sys.stderr,
            )
            return 2
        log.warning(
            "serving %s WITHOUT authentication: anyone who reaches it has full access", args.host
        )
    store = open_store(
        args.store,
        durability=Durability(args.durability),
        max_batch=args.max_batch,
        pipeline_depth=args.pipeline_depth,
        ahead_min=args.ahead_min,
    )
    ctx = ServiceContext(
        store,
        agent_offline_after_us=int(args.agent_offline_after * 1e6),
        streams=StreamLimits(args.max_streams, args.max_streams_per_caller),
        hub=EventHub(convert.event_entry, window=args.stream_window),
    )
    host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host

    def ready(port: int) -> None:
        where = describe(args.store) if "://" in args.store else os.path.abspath(args.store)
        durability = args.durability if "://" not in args.store else "as configured"
        security = ", ".join(
            (
                "auth" if auth is not None else "no auth",
                "mutual TLS" if tls and tls.client_ca else "TLS" if tls else "no TLS",
            )
        )
        print(
            f"quadro: serving on {args.host}:{port} (store {where}, durability {durability}; "
            f"{security})",
            flush=True,
        )

    try:
        companions = [functools.partial(c.serve_companion, args) for c in args.companions]
        asyncio.run(
            serve_until_signalled(
                store,
                ctx,
                f"{host}:{args.port}",
                args.shutdown_grace,
                ready,
                companions,
                auth=auth,
                tls=tls,
            )
        )
    except OSError as exc:
        print(f"quadro serve: {exc}", file=sys.stderr)
        return 1
    return 0
