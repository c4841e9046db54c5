"""The commands behind ``python loader/run.py``."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import psycopg2

from pgshift.connection import check_connection
from pgshift.load import LoadError
from pgshift.naming import NamingError, Overrides
from pgshift.scaffold import ScaffoldError
from pgshift.settings import (
    OVERRIDES_FILE,
    PROJECT_DIR,
    ConfigError,
    DatabaseUrl,
    Settings,
)

logger = logging.getLogger(__name__)

EXIT_SUCCESS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

UserFacingError = (ConfigError, LoadError, NamingError, ScaffoldError)
"""Errors whose message is the whole story: printed without a traceback."""

DEFAULT_OVERRIDES = PROJECT_DIR / OVERRIDES_FILE


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="python loader/run.py",
        description=(
            "Move a PostgreSQL database into another one, renaming camelCase "
            "columns to snake_case, and prove nothing was lost. Connection "
            "settings come from SOURCE_DATABASE_URL and TARGET_DATABASE_URL."
        ),
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument(
        "--source-schema", default="public", help="source schema (default: public)"
    )
    parser.add_argument(
        "--raw-schema", default="raw", help="target landing schema (default: raw)"
    )
    parser.add_argument(
        "--include", default="", help="comma-separated source tables to migrate"
    )
    parser.add_argument(
        "--exclude", default="", help="comma-separated source tables to skip"
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("load", help="extract the source into the raw schema (default)")
    scaffold = sub.add_parser("scaffold", help="generate dbt models from the source")
    scaffold.add_argument(
        "--overrides",
        type=Path,
        default=DEFAULT_OVERRIDES,
        help="YAML file of explicit target names (default: pgshift_overrides.yml)",
    )
    scaffold.add_argument("--source-name", default="app", help="dbt source name")
    scaffold.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed files differ",
    )
    sub.add_parser("verify", help="reconcile source and target, write the report")
    migrate = sub.add_parser("migrate", help="load, dbt build and verify")
    migrate.add_argument(
        "--replace-existing",
        action="store_true",
        help="replace target tables of the same names that pgshift did not build "
        "(their rows are dropped)",
    )
    dbt = sub.add_parser("dbt", help="run a dbt command against the target")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    sample = sub.add_parser(
        "sample", help="create and seed the sample marketplace source database"
    )
    sample.add_argument("--scale", type=int, default=1)
    sample.add_argument("--seed", type=int, default=42)
    demo = sub.add_parser(
        "demo", help="seed the sample on an embedded PostgreSQL and migrate it"
    )
    demo.add_argument("--scale", type=int, default=1)
    demo.add_argument("--stop", action="store_true", help="stop the demo server")
    return parser


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def settings_from(args: argparse.Namespace, *, need_source: bool = True) -> Settings:
    """Build settings from the environment and the command line."""
    return Settings.from_env(
        need_source=need_source,
        source_schema=args.source_schema,
        raw_schema=args.raw_schema,
        include=_split(args.include),
        exclude=_split(args.exclude),
    )


def dispatch(args: argparse.Namespace) -> int:
    """Run the command the arguments name.

    Args:
        args: Parsed arguments.

    Returns:
        The exit code.
    """
    command = args.command or "load"
    if command == "sample":
        return cmd_sample(args)
    if command == "demo":
        from pgshift.demo import run_demo

        return run_demo(args.scale, stop=args.stop)
    settings = settings_from(args, need_source=command not in {"dbt", "verify"})
    if command == "load":
        return cmd_load(settings)
    if command == "scaffold":
        return cmd_scaffold(settings, args)
    if command == "verify":
        return cmd_verify(settings)
    if command == "migrate":
        return cmd_migrate(settings, replace_existing=args.replace_existing)
    if command == "dbt":
        return cmd_dbt(settings, args.dbt_args)
    raise ConfigError(f"unknown command {command!r}")


def cmd_load(settings: Settings) -> int:
    """Load the source into the raw schema."""
    from pgshift.load import load

    check_connection(settings.source_required)
    check_connection(settings.target)
    result = load(settings)
    total = sum(result.source_rows.values())
    print(
        f"loaded {len(result.source_rows)} tables, {total} rows, from snapshot "
        f"{result.snapshot_id} into {settings.raw_schema} in {result.seconds:.1f} s"
    )
    return EXIT_SUCCESS


def cmd_scaffold(settings: Settings, args: argparse.Namespace) -> int:
    """Generate (or check) the dbt files from the source catalog."""
    from pgshift.catalog import read_catalog, read_not_migrated
    from pgshift.scaffold import map_catalog, render, write

    check_connection(settings.source_required)
    with psycopg2.connect(**settings.source_required.connect_kwargs()) as conn:
        conn.set_session(readonly=True)
        catalog = read_catalog(conn.cursor(), settings.source_schema)
        left_behind = read_not_migrated(conn.cursor(), settings.source_schema)
    conn.close()
    for name in [n for n in catalog.tables if not settings.selects(n)]:
        del catalog.tables[name]
    project = map_catalog(catalog, Overrides.load(args.overrides), args.source_name)
    files = render(project, settings.raw_schema)
    if args.check:
        drift = [
            rel
            for rel, content in files.items()
            if not (settings.project_dir / rel).exists()
            or (settings.project_dir / rel).read_text(encoding="utf-8") != content
        ]
        for rel in drift:
            print(f"differs from the source schema: {rel}")
        return EXIT_FAIL if drift else EXIT_SUCCESS
    written = write(files, settings.project_dir)
    print(f"scaffolded {len(project.tables)} tables into {len(written)} files")
    for kind, name, reason in left_behind:
        print(f"not migrated: {kind} {name}: {reason}")
    return EXIT_SUCCESS


def cmd_verify(settings: Settings, phases: dict[str, float] | None = None) -> int:
    """Reconcile source and target, write and summarise the report."""
    from pgshift.verify import summary_table, verify, write_report

    check_connection(settings.target)
    report = verify(settings)
    report.phases = phases or {}
    md, _ = write_report(report, settings.project_dir)
    print(summary_table(report))
    for line in report.schema_differences or []:
        print(f"schema differs: {line}")
    for table in report.tables:
        if table.status != "complete":
            print(f"\n{table.final_table}: {table.detail}")
            for line in table.differences:
                print(f"  {line}")
    print(f"\nreport: {md}")
    return EXIT_SUCCESS if report.passed else EXIT_FAIL


def cmd_dbt(settings: Settings, dbt_args: list[str]) -> int:
    """Run one dbt command against the target."""
    from pgshift.transform import run_dbt

    outcome = run_dbt(settings, dbt_args or ["build"])
    for failure in outcome.failures:
        print(failure)
    return EXIT_SUCCESS if outcome.success else EXIT_FAIL


GUARD_MESSAGE = "pgshift: these tables already exist on the target"


def cmd_migrate(settings: Settings, *, replace_existing: bool = False) -> int:
    """Load, build and verify; exit 0 only when every check passed."""
    from pgshift.load import load
    from pgshift.transform import run_dbt

    check_connection(settings.source_required)
    check_connection(settings.target)
    phases: dict[str, float] = {}
    started = time.monotonic()
    result = load(settings)
    phases["load"] = time.monotonic() - started
    print(
        f"loaded {len(result.source_rows)} tables, "
        f"{sum(result.source_rows.values())} rows, in {phases['load']:.1f} s"
    )
    started = time.monotonic()
    variables = {"pgshift_replace_existing": True} if replace_existing else {}
    outcome = run_dbt(settings, ["build"], variables)
    phases["dbt build"] = time.monotonic() - started
    guard = [f for f in outcome.failures if GUARD_MESSAGE in f]
    if guard:
        message = guard[0][guard[0].index(GUARD_MESSAGE) :].splitlines()[0]
        raise ConfigError(message.removeprefix("pgshift: "))
    print(
        f"dbt build: {'passed' if outcome.success else 'FAILED'} "
        f"({len(outcome.results)} nodes) in {phases['dbt build']:.1f} s"
    )
    for failure in outcome.failures:
        print(f"  {failure}")
    code = cmd_verify(settings, phases)
    return code if outcome.success else EXIT_FAIL


def cmd_sample(args: argparse.Namespace) -> int:
    """Create the sample marketplace schema at SOURCE_DATABASE_URL and seed it."""
    import os

    from pgshift.sample.seed import create_schema, seed

    source = DatabaseUrl.parse("source", os.environ.get("SOURCE_DATABASE_URL"))
    check_connection(source)
    with psycopg2.connect(**source.connect_kwargs()) as conn:
        create_schema(conn)
        counts = seed(conn, scale=args.scale, seed=args.seed)
    conn.close()
    print(
        f"seeded {len(counts)} tables, {sum(counts.values())} rows, "
        f"into {source.redacted()}"
    )
    return EXIT_SUCCESS
