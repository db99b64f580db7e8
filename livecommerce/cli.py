"""The ``livecommerce`` command: serve, worker, migrate, seed-demo, reconcile, payouts,
users create."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence

from livecommerce.settings import Settings, SettingsError

__all__ = ["main"]


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from livecommerce.app import create_app
    from livecommerce.observability import configure_logging
    from livecommerce.server import uvicorn_config

    configure_logging(settings.log_level, library_level=settings.library_log_level)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if not settings.node_url:  # other nodes reach this one where it listens
        reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        settings = settings.with_(node_url=f"http://{reachable}:{port}")
    app = create_app(settings)
    config = uvicorn_config(app, settings, host=host, port=port)
    uvicorn.Server(config).run()
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from livecommerce.app import create_app
    from livecommerce.observability import configure_logging

    configure_logging(settings.log_level, library_level=settings.library_log_level)
    app = create_app(settings, run_jobs=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with app.router.lifespan_context(app):
            print("worker running; Ctrl-C stops it", file=sys.stderr, flush=True)
            await stop.wait()

    asyncio.run(run())
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from livecommerce.db.migrate import migrate

    migrate(settings.database_url, args.revision)
    print(f"database at revision {args.revision}: {_redact(settings.database_url)}")
    return 0


def _seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from livecommerce.demo import seed_demo

    return asyncio.run(seed_demo(settings, base_url=args.base_url))


def _users_create(settings: Settings, args: argparse.Namespace) -> int:
    from livecommerce.accounts.store import create_user
    from livecommerce.db.engine import Database

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            async with db.sessions() as session:
                user = await create_user(
                    session,
                    email=args.email,
                    password=args.password,
                    display_name=args.name or args.email.split("@")[0],
                    role=args.role,
                    brand_id=args.brand_id,
                )
                await session.commit()
                print(f"created user {user.id} <{user.email}> with role {user.role}")
        finally:
            await db.dispose()
        return 0

    return asyncio.run(run())


def _redact(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    from cart.reconcile import main as reconcile_main

    return reconcile_main(settings, fix=not args.no_fix)


def _payouts(settings: Settings, args: argparse.Namespace) -> int:
    from cart.payouts.cli import main as payouts_main

    return payouts_main(settings, creator_ids=args.creator or None, check=not args.no_check)


Command = Callable[[Settings, argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livecommerce", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP/WebSocket server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="run background jobs (reaper, ...) without HTTP")
    worker.set_defaults(func=_worker)

    migrate = sub.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=_migrate)

    seed = sub.add_parser("seed-demo", help="create a demo brand, show and users")
    seed.add_argument("--base-url", default="http://127.0.0.1:8000")
    seed.set_defaults(func=_seed_demo)

    reconcile = sub.add_parser(
        "reconcile",
        help="check sold + held + available = total for every product on sale; fix what is safe",
    )
    reconcile.add_argument("--no-fix", action="store_true", help="report only, change nothing")
    reconcile.set_defaults(func=_reconcile)

    payouts = sub.add_parser(
        "payouts",
        help="pay creators their payable commission (resumes unfinished payouts; idempotent)",
    )
    payouts.add_argument(
        "--creator", type=int, action="append", help="only this creator (repeatable)"
    )
    payouts.add_argument(
        "--no-check", action="store_true", help="skip the books check after the run"
    )
    payouts.set_defaults(func=_payouts)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users", required=True)
    create = users.add_parser("create", help="create a user with any role")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--name", default=None)
    create.add_argument(
        "--role", default="viewer", choices=["viewer", "host", "moderator", "admin", "brand"]
    )
    create.add_argument("--brand-id", type=int, default=None)
    create.set_defaults(func=_users_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"livecommerce: configuration error: {exc}", file=sys.stderr)
        return 2
    func: Command = args.func
    from livecommerce.errors import LivecommerceError

    try:
        return func(settings, args)
    except LivecommerceError as exc:
        print(f"livecommerce: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
