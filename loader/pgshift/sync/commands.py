"""The online migration's commands: ``sync``, ``status``, ``cleanup``, ``cutover``.

``pgshift.cli`` adds them to its parser and hands them over here.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from typing import Any

from pgshift.progress import counted
from pgshift.settings import EXIT_INTERRUPTED, Settings

SYNC_COMMANDS = frozenset({"sync", "status", "cleanup", "cutover"})
"""The commands this module runs."""


def add_sync_commands(sub: Any) -> None:
    """The online migration's commands (``pgshift.sync``)."""
    sync = sub.add_parser(
        "sync",
        help="copy, build, then follow the source's changes into the final "
        "tables until stopped (restartable)",
    )
    for flag, text in (
        ("--replace-existing", "as for migrate"),
        ("--drop-dependents", "as for migrate"),
    ):
        sync.add_argument(flag, action="store_true", help=text)
    sync.add_argument(
        "--warn-wal-gb",
        type=float,
        default=1.0,
        help="warn when the slot holds back this much WAL on the source (GiB)",
    )
    sync.add_argument(
        "--max-wal-gb",
        type=float,
        default=20.0,
        help="stop and drop the slot when it holds back this much WAL (GiB; 0: "
        "no limit)",
    )
    status = sub.add_parser("status", help="where a sync stands: slot, WAL, lag")
    status.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser(
        "cleanup", help="drop the slot and publication sync left on the source"
    )
    cutover = sub.add_parser(
        "cutover",
        help="stop the application's writes on the source, drain, set "
        "sequences, verify, finish the sync",
    )
    cutover.add_argument(
        "--roles",
        default=None,
        help="comma-separated source login roles of the application (default: "
        "every non-superuser login role that may write a migrated table)",
    )


def run_sync_command(
    settings: Settings,
    args: argparse.Namespace,
    check_models: Callable[[Settings], str | None] | None = None,
    check_schema: Callable[[Settings], list[str]] | None = None,
) -> int:
    """Run sync, status, cleanup or cutover.

    ``check_models``: as ``sync.run_sync``; ``check_schema``: as
    ``sync.cutover.cutover``.
    """
    from pgshift import sync
    from pgshift.connection import check_connection

    if args.command != "sync":
        # A wrong URL is a message and exit 2 before anything is read (sync
        # checks its own as it starts).
        for url in (settings.target, settings.source):
            if url is not None:
                check_connection(url)
    if args.command == "sync":
        from pgshift.sync.stream import Limits

        limits = Limits(
            warn_bytes=int(args.warn_wal_gb * 2**30),
            max_bytes=int(args.max_wal_gb * 2**30),
        )
        # A sync started in the background by a non-interactive shell (or
        # nohup) inherits SIGINT ignored, and Python leaves it so: `kill
        # -INT` would then not stop it. It stops on SIGINT as on Ctrl-C.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            outcome = sync.run_sync(
                settings,
                replace_existing=args.replace_existing,
                drop_dependents=args.drop_dependents,
                limits=limits,
                check_models=check_models,
            )
        except KeyboardInterrupt:
            # A sync goes on where it stopped: not the generic "start over".
            print(
                "sync: stopped. Run sync again to go on from the applied "
                "position, cutover to finish, cleanup to abandon",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        from pgshift.sync.pgoutput import format_lsn

        print(f"sync stopped at {format_lsn(outcome.applied_lsn)} ({outcome.reason})")
        return 0
    if args.command == "status":
        found = sync.status(settings)
        if args.json:
            print(json.dumps(found.as_dict(), indent=2))
        else:
            print("\n".join(found.lines()))
        return 0
    if args.command == "cleanup":
        dropped = sync.cleanup(settings)
        print(f"dropped {', '.join(dropped)}" if dropped else "nothing to drop")
        return 0
    from pgshift.sync.cutover import cutover

    roles = (
        [r.strip() for r in args.roles.split(",") if r.strip()]
        if args.roles is not None
        else None
    )
    done = cutover(settings, roles, check_schema=check_schema)
    if done.still_connected:
        print(
            "warning: sessions of roles cutover did not block were on the source "
            f"database ({', '.join(done.still_connected)}); what they wrote after "
            "the marker is not on the target"
        )
    if done.schema_check is not None:
        print(f"  before the downtime: {'schema check':<28} {done.schema_check:7.2f} s")
    for name, seconds in done.before:
        print(f"  before the downtime: {name:<28} {seconds:7.2f} s")
    for name, seconds in done.steps:
        print(f"  {name:<28} {seconds:7.2f} s")
    if done.before:
        for table, why in sorted(done.whole.items()):
            print(f"  checked whole: {table} ({why})")
    for line in done.views:
        print(f"  {line}")
    stopped = (
        f"writes stopped for {', '.join(done.blocked_roles)}; give them back "
        "with ALTER ROLE ... LOGIN only to go back"
        if done.blocked_database is None
        else f"writes stopped for {', '.join(done.blocked_roles)} by revoking "
        f"CONNECT on the source database {done.blocked_database}: source and "
        "target share a server, so the roles were not made NOLOGIN and may log "
        "in to the target; only to go back, run on the source: " + " ".join(done.reopen)
    )
    print(
        f"cutover done: downtime {done.downtime:.2f} s"
        + (
            " in this run (the writes were stopped by the cutover it finished)"
            if done.resumed
            else ""
        )
        + f" ({stopped}); "
        f"{done.sequences} sequences set"
        + (
            f" ({len(done.past_rows)} past the source's position, past the values "
            f"their columns hold: {', '.join(done.past_rows)})"
            if done.past_rows
            else ""
        )
        + "; every table's "
        "count and checksum equal the source's"
        + (
            f" (checked at B before the downtime, then from B; {len(done.whole)} "
            "checked whole)"
            if done.before
            else ""
        )
        + (
            f"; {counted(done.refreshed, 'materialized view')} refreshed"
            + (" at B" if done.before else " in the downtime")
            if done.refreshed
            else ""
        )
        + (
            f"; {len(done.views)} views compared" + (" at B" if done.before else "")
            if done.views
            else ""
        )
    )
    return 0
