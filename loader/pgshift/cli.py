"""The commands behind ``python loader/run.py``."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgshift.connection import check_connection, transaction
from pgshift.expressions import ExpressionError
from pgshift.load.retry import LoadError
from pgshift.naming import NamingError, to_snake
from pgshift.progress import counted, some
from pgshift.scaffold.supported import ScaffoldError
from pgshift.settings import (
    DEFAULT_JOBS,
    OVERRIDES_FILE,
    PROJECT_DIR,
    ConfigError,
    Settings,
    parse_jobs,
    parse_names,
    recorded_overrides,
)
from pgshift.sync.commands import SYNC_COMMANDS, add_sync_commands, run_sync_command
from pgshift.verify.report import Report

if TYPE_CHECKING:
    from pgshift.mapping import NameMap

logger = logging.getLogger(__name__)

EXIT_SUCCESS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

UserFacingError = (ConfigError, ExpressionError, LoadError, NamingError, ScaffoldError)
"""Errors whose message is the whole story: printed without a traceback."""


def _jobs(value: str) -> int:
    """Read --jobs for argparse, which prints the message and exits with 2."""
    try:
        return parse_jobs(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--jobs ")) from None


class _Once(argparse.Action):
    """An option that takes one value: given twice, the run stops (exit 2).

    The last of two ``--exclude`` would otherwise win silently, and the
    table the first one named would migrate.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = getattr(namespace, "_given", set())
        if self.dest in given:
            parser.error(
                f"{'/'.join(self.option_strings)} is given twice: give it once, "
                "with every name in one comma-separated list"
            )
        namespace._given = given | {self.dest}
        setattr(namespace, self.dest, values)


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
        "--source-schema",
        default=None,
        action=_Once,
        help="the one source schema to migrate (default: the project's, else public)",
    )
    parser.add_argument(
        "--schemas",
        default=None,
        action=_Once,
        help="comma-separated source schemas to migrate (one per run for now; "
        "default: the one scaffold recorded in the project, else public)",
    )
    parser.add_argument(
        "--raw-schema",
        default="raw",
        action=_Once,
        help="target landing schema (default: raw)",
    )
    parser.add_argument(
        "--final-schema",
        default=None,
        action=_Once,
        help="target schema the application reads, where the migrated schema "
        "lands (default: the override file's 'schemas:' entry for it, else "
        "the one scaffold recorded in the project for it, else public)",
    )
    parser.add_argument(
        "--include",
        default="",
        action=_Once,
        help="comma-separated source tables to migrate",
    )
    parser.add_argument(
        "--exclude",
        default="",
        action=_Once,
        help="comma-separated source tables to skip",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help="parallel jobs: copies out of the source, load workers, dbt "
        "threads, verify connections (default: the machine's cores, "
        f"{DEFAULT_JOBS} here). The load opens about N+2 source connections, "
        "each a backend on the source server",
    )
    sub = parser.add_subparsers(dest="command")
    load = sub.add_parser(
        "load", help="extract the source into the raw schema (default)"
    )
    sub.add_parser(
        "snapshot",
        help="export a snapshot of the source and hold it until stopped, for "
        "the runs of several schemas to read in (--snapshot)",
    )
    scaffold = sub.add_parser("scaffold", help="generate dbt models from the source")
    scaffold.add_argument(
        "--overrides",
        type=Path,
        default=None,
        help=f"YAML file of explicit target names (default: {OVERRIDES_FILE})",
    )
    scaffold.add_argument("--source-name", default="app", help="dbt source name")
    scaffold.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed files differ",
    )
    sub.add_parser("verify", help="reconcile source and target, write the report")
    compat = sub.add_parser(
        "compat",
        help="create on the target a schema of updatable views with the "
        "source's table and column names, for the application's previous "
        "version",
    )
    compat.add_argument(
        "--schema", default=None, help="its name (default: <final schema>_compat)"
    )
    compat.add_argument(
        "--drop", action="store_true", help="drop it (only if pgshift created it)"
    )
    compat.add_argument(
        "--every-table",
        action="store_true",
        help="a view for every table, those the rename leaves as they are "
        "included, for an application that names its schema before every "
        "table (done without asking for a schema Prisma migrates)",
    )
    migrate = sub.add_parser("migrate", help="load, dbt build and verify")
    for reads in (load, migrate):
        reads.add_argument(
            "--snapshot",
            default=None,
            metavar="ID",
            help="read the source inside this snapshot, which `snapshot` "
            "holds (the runs of several schemas then read one moment)",
        )
    migrate.add_argument(
        "--replace-existing",
        action="store_true",
        help="replace target tables of the same names that pgshift did not build, "
        "those it built that were written to since it published them, and those "
        "it published from another source database or schema (their rows are "
        "dropped)",
    )
    migrate.add_argument(
        "--drop-dependents",
        action="store_true",
        help="leave out (drop) the target's own objects on replaced tables that "
        "cannot be recreated on the new ones; the report lists them",
    )
    add_sync_commands(sub)
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


def _chosen_schemas(args: argparse.Namespace) -> tuple[str, ...]:
    """The schemas ``--schemas`` or ``--source-schema`` named (empty: neither).

    Raises:
        ConfigError: Both were given and name different schemas, or several
            schemas were chosen (``pgshift.schemas.SEVERAL_SCHEMAS``).
    """
    from pgshift.schemas import SEVERAL_SCHEMAS

    chosen = _split(args.schemas or "")
    if args.schemas is not None and not chosen:
        raise ConfigError("--schemas names no schema")
    if len(chosen) > 1:
        raise ConfigError(SEVERAL_SCHEMAS.format(chosen=", ".join(chosen)))
    if not chosen:
        return (args.source_schema,) if args.source_schema else ()
    if args.source_schema not in (None, chosen[0]):
        raise ConfigError(
            f"--source-schema {args.source_schema} and --schemas {chosen[0]} "
            "name different schemas; give one of them"
        )
    return chosen


def settings_from(
    args: argparse.Namespace, *, need_source: bool = True, need_target: bool = True
) -> Settings:
    """Build settings from the environment, the command line and the project.

    The source and final schemas not given as options are the override
    file's and the project's (``pgshift.schemas.run_schemas``).
    """
    from pgshift.mapping import NameMap
    from pgshift.naming import Overrides
    from pgshift.schemas import run_schemas

    project_dir = PROJECT_DIR
    try:
        project = NameMap.recorded_schemas(project_dir)
    except ConfigError:
        if args.command != "scaffold":
            raise
        project = None  # scaffold writes it again
    given = getattr(args, "overrides", None)
    overrides = (
        given
        or recorded_overrides(project_dir, project.overrides if project else None)
        or project_dir / OVERRIDES_FILE
    )
    schemas = run_schemas(
        _chosen_schemas(args),
        args.final_schema,
        project,
        Overrides.load(overrides).schemas,
    )
    return Settings.from_env(
        need_source=need_source,
        need_target=need_target,
        source_schema=schemas.source_schema,
        schemas=schemas.schemas,
        raw_schema=args.raw_schema,
        final_schema=schemas.final_schema,
        include=parse_names(args.include),
        exclude=parse_names(args.exclude),
        overrides=given,
        snapshot=getattr(args, "snapshot", None),
        jobs=args.jobs,
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

        return run_demo(args.scale, stop=args.stop, jobs=args.jobs)
    settings = settings_from(
        args,
        need_source=command not in {"dbt", "verify", "compat"},
        need_target=command not in {"scaffold", "snapshot"},
    )
    if command == "load":
        return cmd_load(settings)
    if command == "snapshot":
        return cmd_snapshot(settings)
    if command == "scaffold":
        return cmd_scaffold(settings, args)
    if command == "verify":
        return cmd_verify(settings)
    if command == "compat":
        return cmd_compat(
            settings, args.schema, drop=args.drop, every_table=args.every_table
        )
    if command == "migrate":
        return cmd_migrate(
            settings,
            replace_existing=args.replace_existing,
            drop_dependents=args.drop_dependents,
        )
    if command in SYNC_COMMANDS:
        from pgshift.scaffold import drift_refusal, schema_drift

        return run_sync_command(
            settings, args, check_models=drift_refusal, check_schema=schema_drift
        )
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


def cmd_snapshot(settings: Settings) -> int:
    """Hold a snapshot of the source for the runs of several schemas, until Ctrl-C."""
    from pgshift.load.extract import Snapshot, hold_snapshot

    check_connection(settings.source_required)
    held: list[str] = []

    def ready(snapshot: Snapshot) -> None:
        held.append(snapshot.snapshot_id)
        print(
            f"holding source snapshot {snapshot.snapshot_id} (taken at "
            f"{snapshot.taken_at}). Give it to each schema's load, `--snapshot "
            f"{snapshot.snapshot_id} migrate`, and keep this running until "
            "the last one has loaded; Ctrl-C releases it",
            flush=True,
        )

    try:
        hold_snapshot(settings.source_required, ready)
    except KeyboardInterrupt:
        if not held:
            raise
        print(f"released source snapshot {held[0]}")
    return EXIT_SUCCESS


def cmd_scaffold(settings: Settings, args: argparse.Namespace) -> int:
    """Generate (or check) the dbt files from the source catalog."""
    from pgshift.naming import tool_tables
    from pgshift.scaffold import scaffold
    from pgshift.scaffold.names_in_data import names_in_data_notes
    from pgshift.schemas import MIGRATED_BY_ITS_OWN_RUN, run_order_line

    check_connection(settings.source_required)
    if settings.target is not None:
        check_connection(settings.target)  # scaffold reads it, and dbt parses there
    done = scaffold(settings, args.source_name, check=args.check)
    if args.check:
        for line in done.drifted:
            print(f"differs from the source schema: {line}")
        if not done.drifted:
            print(
                f"the project matches the source schema "
                f"({len(done.project.names.tables)} tables, {len(done.files)} files)"
            )
        return EXIT_FAIL if done.drifted else EXIT_SUCCESS
    print(
        f"scaffolded {counted(len(done.project.names.tables), 'table')} into "
        f"{len(done.files)} files; {renamed_summary(done.project.names)}"
    )
    for kind, name, reason in done.left_behind:
        # The build creates the source's extensions where the target offers
        # them; the report lists those it could not.
        prefix = (
            ""
            if kind == "extension" or reason.startswith(MIGRATED_BY_ITS_OWN_RUN)
            else "not migrated: "
        )
        print(f"{prefix}{kind} {name}: {reason}")
    order = run_order_line(
        done.project.run_order,
        done.project.names.source_schema,
        done.project.migrated_elsewhere,
    )
    if order:
        print(order)
    for table in done.project.names.tables.values():
        for column, why in table.dropped_defaults.items():
            print(f"not migrated: default of {table.target}.{column}: {why}")
    for routine in done.project.routines.routines if done.project.routines else []:
        if not routine.problems:
            for note in routine.notes:
                print(f"migrated: {routine.kind} {routine.label}: {note}")
    for line in done.privilege_notes:
        print(f"privileges: {line}")
    tools = tool_tables(
        {t.source: list(t.columns) for t in done.project.names.tables.values()},
        {
            t.source: [o.source for o in (*t.keys, *t.indexes)]
            for t in done.project.names.tables.values()
        },
    )
    for table in done.project.names.tables.values():
        what = tools.get(table.source)
        if what and table.target == table.source:
            print(
                f"kept as it is: table {table.source} and its columns, {what}, "
                "which the application's tool reads by these names (a "
                "`tables:` override renames it all the same)"
            )
    for line in reserved_word_notes(done.project.names):
        print(line)
    for line in replaced_character_notes(done.project.names):
        print(line)
    for line in shortened_notes(done.project.names):
        print(line)
    for line in generated_name_notes(done.project.names):
        print(line)
    for line in names_in_data_notes(settings, done.project.names):
        print(line)
    for line in renamed_on_target_notes(settings, done.project.names):
        print(line)
    for line in keyless_notes(done.project.names):
        print(line)
    return parse_scaffolded(settings)


def keyless_notes(names: NameMap) -> list[str]:
    """One line naming the tables an online migration cannot follow as they are.

    ``migrate`` copies a table without a primary key like any other; ``sync``
    needs each to say which row an UPDATE or DELETE changes (a replica
    identity), and refuses to start until it does.
    """
    keyless = [
        t.source
        for t in names.tables.values()
        if not any(k.type == "primary_key" for k in t.keys)
        and not any(s.startswith("replica identity ") for s in t.settings)
    ]
    if not keyless:
        return []
    return [
        f"note: {len(keyless)} table(s) have no primary key and no replica "
        f"identity ({some(keyless)}): migrate copies them as they are; sync "
        "cannot follow their UPDATEs and DELETEs until each has one, and "
        "names the statements to run when it starts"
    ]


def renamed_summary(names: NameMap) -> str:
    """How much the name map renames: tables, columns, types, views.

    "renames nothing" tells a team whose schema is snake_case already that
    the migration is a verified copy, and its application needs no
    compatibility schema.
    """
    from pgshift.mapping import MAP_FILE

    tables = names.tables.values()
    counts = [
        (sum(t.source != t.target for t in tables), "table"),
        (sum(s != t for m in tables for s, t in m.columns.items()), "column"),
        (sum(s != t for s, t in names.types.items()), "type"),
        (sum(s != v.name for s, v in names.views.items()), "view"),
        (
            sum(s != t for v in names.views.values() for s, t in v.columns.items()),
            "view column",
        ),
    ]
    said = [counted(n, what) for n, what in counts if n]
    if not said:
        return (
            "the name map renames nothing (every name is kept): the target "
            "reads as the source, and the application needs no `compat`"
        )
    return f"the name map renames {', '.join(said)} ({MAP_FILE})"


def renamed_on_target_notes(settings: Settings, names: NameMap) -> list[str]:
    """A line per final table the next publish drops: its source table has another name now.

    With TARGET_DATABASE_URL set, the target's registry of published tables
    says which source table each came from (publishes that record it); a
    source table the map now gives another name replaces the table
    published under the old one (``macros/publish/pgshift_renamed_tables``).
    """
    from pgshift.connection import relation_exists
    from pgshift.manifest import BUILT_TABLE, REGISTERED_HERE
    from pgshift.sqlident import quote_ident

    if settings.target is None:
        return []
    registry = f"{quote_ident(settings.state_schema)}.{quote_ident(BUILT_TABLE)}"
    with transaction(settings.target, readonly=True) as cursor:
        if not relation_exists(cursor, registry):
            return []
        cursor.execute(
            f"select table_name, to_jsonb(r) ->> 'source_table' from {registry} r "  # noqa: S608
            "where to_regclass(format('%%I.%%I', %(final_schema)s::text, table_name)) "
            f"is not null and {REGISTERED_HERE}",
            {"final_schema": settings.final_schema},
        )
        published = cursor.fetchall()
    return [
        f"note: the next migrate drops {settings.final_schema}.{table} (published "
        f"from {source}), since the project now names that table "
        f"{names.tables[source].target}"
        for table, source in published
        if source in names.tables and names.tables[source].target != table
    ]


GENERATED_NAME = re.compile(r"(PK|FK|IDX|UQ|REL|CHK|DF)_\w+")
"""A constraint or index name an ORM generates: TypeORM's ``PK_`` and a
hash, MikroORM's (Medusa's) ``IDX_<table>_<columns>``."""


def generated_name_notes(names: NameMap) -> list[str]:
    """One line when an ORM's generated constraint and index names are renamed.

    An application whose own migrations drop and create them by those names
    (TypeORM's, n8n's; MikroORM's, as Medusa's ``drop index if exists
    "IDX_api_key_deleted_at"``) misses them on the target once they are
    lower-cased: ``keep_object_names`` keeps them.
    """
    renamed = [
        (o.source, o.name)
        for table in names.tables.values()
        for o in (*table.keys, *table.indexes, *table.foreign_keys, *table.checks)
        if GENERATED_NAME.fullmatch(o.source) and o.name != o.source
    ]
    if not renamed:
        return []
    source, target = renamed[0]
    return [
        f"note: {len(renamed)} constraint and index names are of the shape "
        "ORMs generate (TypeORM's PK_<hash>, MikroORM's IDX_<table>_<columns>), "
        f"renamed by the naming rules ({source} becomes "
        f"{target}): an application whose own migrations drop or create them "
        "by these names needs `keep_object_names: true` in the override "
        "file, then scaffold again"
    ]


def shortened_notes(names: NameMap) -> list[str]:
    """A line per constraint, index or sequence name shortened to fit 63 bytes.

    Each names the source name, the target name it gets, and the override
    file entry that would give it another.
    """
    return [
        f"shortened: {source} of {owner} becomes {target} (the naming rules "
        f"make it longer than PostgreSQL's 63 bytes); to choose another name, "
        f"add it in the override file under 'objects: {owner}:' "
        f"({source}: <new_name>)"
        for owner, source, target in names.shortened
    ]


def replaced_character_notes(names: NameMap) -> list[str]:
    """One line when the rules replace characters in table names with ``_``.

    A case change reads as the same word; ``res_user-res_group`` becoming
    ``res_user_res_group`` (Tryton's relation tables), or ``v1.2``
    becoming ``v1_2``, is a name an application may spell in its code.
    """
    replaced = [
        (table.source, table.target)
        for table in names.tables.values()
        if table.target != table.source
        and table.target == to_snake(table.source)
        and any(not (c.isalnum() or c == "_") for c in table.source)
    ]
    if not replaced:
        return []
    shown = ", ".join(f"{source} becomes {target}" for source, target in replaced[:5])
    return [
        f"note: {len(replaced)} table name(s) hold characters the naming rules "
        f"replace with _ ({shown}{', ...' if len(replaced) > 5 else ''}): an "
        "application that spells these names in its code needs them kept "
        "with `tables:` overrides (a name kept as it is is quoted in SQL)"
    ]


def reserved_word_notes(names: NameMap) -> list[str]:
    """A line per table, and one for the columns, renamed onto an SQL reserved word.

    ``"User"`` becomes ``user``: quoted it works, but ``select * from user``
    reads the current role's name, and ``order by order`` fails. A name the
    source already had is the application's own doing and is not named.
    """
    from pgshift.sqlident import RESERVED_KEYWORDS

    lines = []
    columns = []
    for table in names.tables.values():
        if table.target in RESERVED_KEYWORDS and table.target != table.source:
            lines.append(
                f"note: table {table.source} becomes {table.target}, an SQL "
                f'reserved word: every query must quote it ("{table.target}"; '
                f"unquoted, `from {table.target}` means something else or "
                f"fails). A `tables:` override ({table.source}: "
                f"{table.target}s, say) avoids it"
            )
        columns += [
            f"{table.target}.{target}"
            for source, target in table.columns.items()
            if target in RESERVED_KEYWORDS and target != source
        ]
    if columns:
        lines.append(
            f"note: {len(columns)} column(s) become SQL reserved words, which "
            f"every query must quote: {', '.join(columns[:10])}"
            + (", ..." if len(columns) > 10 else "")
            + " (a `columns:` override gives one another name)"
        )
    return lines


def parse_scaffolded(settings: Settings) -> int:
    """Have dbt parse the scaffolded project, when the target is known.

    A parse of every model, test and macro takes seconds per hundred
    tables; dbt saves what it parsed (``target/partial_parse.msgpack``) and
    the next command against the same target, ``migrate`` say, reads only
    the files changed since. A project dbt cannot parse fails here, before
    anything is loaded. Without TARGET_DATABASE_URL, the first dbt command
    parses instead.
    """
    if settings.target is None:
        return EXIT_SUCCESS
    from pgshift.transform import run_dbt

    outcome = run_dbt(settings, ["parse"], quiet=True)
    if outcome.success:
        print(f"dbt parsed the project (its log: {outcome.log_file})")
        return EXIT_SUCCESS
    for failure in outcome.failures or outcome.messages:
        print(failure)
    print(f"dbt could not parse the scaffolded project; its log: {outcome.log_file}")
    return EXIT_FAIL


def print_report(report: Report, settings: Settings) -> None:
    """Print the summary table, the differences and where the report is."""
    from pgshift.verify import summary_table
    from pgshift.verify.report import left_out_schemas

    if report.compared_with:
        print(f"compared with {report.compared_with}")
    print(summary_table(report))
    if report.not_migrated:
        # Passing checks say nothing of what stayed behind: a trigger left
        # out needs the team's hands before the application runs there.
        shown = [line.split(": ", 1)[0] for line in report.not_migrated]
        print(
            f"not migrated or needing review, {len(shown)} (each with its "
            f"reason in the report): {'; '.join(shown[:8])}"
            + ("; ..." if len(shown) > 8 else "")
        )
    left_out = left_out_schemas(report)
    if left_out:
        print(
            f"schemas left out, {len(left_out)} (each with why in the report): "
            f"{'; '.join(left_out[:8])}" + ("; ..." if len(left_out) > 8 else "")
        )
    # What the publish dropped on the target is said here too, not only in
    # the report: a table published under a name the project no longer
    # gives, an object of the team's left out with --drop-dependents.
    for line in report.carried_over:
        if ": dropped" in line:
            print(f"on the target: {line}")
    for line in report.schema_differences or []:
        print(f"schema differs: {line}")
    # The other reasons a run fails, each named here as in the report.
    for prefix, lines in (
        ("build", report.build_failures),
        ("sequence behind", report.sequences_behind),
        ("view differs", report.views_differ),
    ):
        for line in lines:
            print(f"{prefix}: {line}")
    for table in report.tables:
        if table.status != "complete":
            print(f"\n{table.final_table}: {table.detail}")
            for line in table.differences:
                print(f"  {line}")
    print(f"\nreport: {settings.project_dir / 'MIGRATION_REPORT.md'}")


def cmd_verify(settings: Settings) -> int:
    """Reconcile source and target, write and summarise the report."""
    from pgshift.verify import record_and_write, verify

    check_connection(settings.target)
    report = verify(settings)
    record_and_write(report, settings)
    print_report(report, settings)
    return EXIT_SUCCESS if report.passed else EXIT_FAIL


def cmd_compat(
    settings: Settings, schema: str | None, *, drop: bool, every_table: bool = False
) -> int:
    """Create, replace or drop the compatibility schema (``pgshift.compat``)."""
    from pgshift.compat import (
        compat_notes,
        create_compat_schema,
        default_compat_schema,
        drop_compat_schema,
    )
    from pgshift.mapping import NameMap

    check_connection(settings.target)
    schema = schema or default_compat_schema(settings)
    if drop:
        gone = drop_compat_schema(settings, schema)
        print(f"dropped schema {schema}" if gone else f"no schema {schema}")
        return EXIT_SUCCESS
    count = create_compat_schema(settings, schema, every_table or None)
    if count:
        print(
            f"schema {schema}: {count} views with the source's names over the "
            "final tables; point the previous application's search_path at "
            f"{schema}, then {settings.final_schema} ({schema}, "
            f"{settings.final_schema})"
        )
    else:
        print(
            f"schema {schema}: no views: the rename changes no table's or "
            "column's name, so the previous application reads the final "
            f"tables in {settings.final_schema} as they are and needs no "
            f"compatibility schema (`compat --drop` drops {schema})"
        )
    names = NameMap.read(settings.project_dir)
    for line in compat_notes(names, every_table) if names is not None else []:
        print(line)
    return EXIT_SUCCESS


def cmd_dbt(settings: Settings, dbt_args: list[str]) -> int:
    """Run one dbt command against the target."""
    from pgshift.manifest import refuse_while_syncing
    from pgshift.transform import run_dbt

    if (dbt_args or ["build"])[0] in {"build", "run"}:
        with transaction(settings.target) as cursor:
            refuse_while_syncing(cursor, settings.state_schema, "dbt build")
    outcome = run_dbt(settings, dbt_args or ["build"])
    if outcome.refusal:
        raise ConfigError(outcome.refusal)
    for failure in outcome.failures:
        print(failure)
    return EXIT_SUCCESS if outcome.success else EXIT_FAIL


def cmd_migrate(
    settings: Settings, *, replace_existing: bool = False, drop_dependents: bool = False
) -> int:
    """Load, build and verify; exit 0 only when every check passed."""
    from pgshift.pipeline import migrate

    done = migrate(
        settings, replace_existing=replace_existing, drop_dependents=drop_dependents
    )
    print_report(done.report, settings)
    print(f"dbt's log: {done.build.log_file}")
    return EXIT_SUCCESS if done.passed else EXIT_FAIL


def cmd_sample(args: argparse.Namespace) -> int:
    """Create the sample marketplace schema at SOURCE_DATABASE_URL and seed it."""
    from pgshift.connection import transaction
    from pgshift.demo.sample.seed import create_schema, seed

    source = Settings.from_env(need_target=False).source_required
    check_connection(source)
    with transaction(source) as cursor:
        create_schema(cursor.connection)
        counts = seed(cursor.connection, scale=args.scale, seed=args.seed)
    print(
        f"seeded {len(counts)} tables, {sum(counts.values())} rows, "
        f"into {source.redacted()}"
    )
    return EXIT_SUCCESS
