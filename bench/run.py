"""Benchmark pgshift against pg_dump | pg_restore and a raw COPY pipe.

Usage::

    python bench/run.py --preset 1m --repeat 3
    python bench/run.py --rows 300000 --repeat 1     # any size
    python bench/run.py --wide 100 --repeat 1        # 100 rows of 15 MB of text
    python bench/run.py --tables 25,100,300 --repeat 3  # many small tables
    python bench/run.py --preset 10m --repeat 1 --jobs 1   # one core's worth

One run seeds the sample marketplace source at the chosen size on a
throwaway PostgreSQL cluster (the same server, with the same settings, for
every contender), then, per repetition and each into an empty database:

1. pgshift: ``run.py load``, ``run.py dbt build`` (every test) and
   ``run.py verify``, each phase timed;
2. the baseline: ``pg_dump -Fd -jN`` and ``pg_restore -jN`` (schema, data,
   indexes and constraints), then one ``ALTER TABLE ... RENAME COLUMN`` per
   camelCase column, with the names pgshift's rules give;
3. the raw limit: schema without indexes or constraints, then
   ``COPY ... TO STDOUT | COPY ... FROM STDIN`` per table, N at a time.

N is ``--jobs`` (default 2), given to pgshift's commands as ``--jobs N``
too, so that every contender gets the same parallelism; results of another
N than 2 are written as ``<name>-jN``.

``--tables N`` (or a list, ``25,100,300,1000``) moves a source of N small
tables instead (``TABLE_COLUMNS`` columns, ``TABLE_ROWS`` rows each, every
table's foreign key pointing at the one before it, in chains of
``CHAIN_LENGTH``): pgshift scaffolds it into a copy of the project first
(timed apart, not counted in end to end), then runs as above. A list also
draws end to end against the number of tables (``tables.png``), which shows
the cost per table.

``--wide N`` moves one table of N rows of ``WIDE_MB`` megabytes of text and
as much bytea each (three times that as text) instead of the sample; pgshift
then runs ``run.py load`` only, as the project's dbt models describe the
sample.

It prints and writes (``bench/results/<name>.csv`` and ``.png``) wall time,
rows/s and the peak RSS of every client process of each phase, the median
over the repetitions, and the ratios pgshift / baseline and pgshift / raw.
Server processes are the same for all contenders and are not counted.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "loader"))

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

from pgshift.demo.cluster import Cluster, find_server_binaries  # noqa: E402
from pgshift.demo.sample.seed import BASE_COUNTS, create_schema, seed  # noqa: E402
from pgshift.demo.sample.wide import wide_table_sql  # noqa: E402
from pgshift.naming import to_snake  # noqa: E402

PRESETS = {"1m": 1_000_000, "10m": 10_000_000, "30m": 30_000_000}
ROWS_PER_SCALE = sum(BASE_COUNTS.values())

TABLE_ROWS = 100
"""Rows in every table of the --tables source."""
TABLE_COLUMNS = 5
"""Columns in every table of the --tables source (key and foreign key included)."""
CHAIN_LENGTH = 10
"""Tables per foreign-key chain of the --tables source."""

WIDE_MB = 5
"""Megabytes of text, and of bytea, in every row of the --wide table."""


SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "512MB",
    "max_connections": "50",
}
"""The one server's settings, the same for every contender: durable (fsync
on), with room for bulk loads as a team would give its target."""


@dataclass
class Phase:
    """One timed phase of one contender in one repetition."""

    run: int
    contender: str
    phase: str
    seconds: float
    rows: int
    peak_rss_mb: float

    @property
    def rows_per_s(self) -> float:
        """Rows moved per second of this phase."""
        return self.rows / self.seconds if self.seconds else 0.0


def timed(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MB of it and its children).

    The peak comes from the kernel's accounting of the waited-for process
    tree (``wait4``), so it covers every process the command started.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stderr_chunks: list[bytes] = []
    reader = threading.Thread(
        target=lambda: stderr_chunks.append(process.stderr.read())  # type: ignore[union-attr]
    )
    reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        tail = b"".join(stderr_chunks).decode(errors="replace")[-3000:]
        raise SystemExit(f"{args[:3]} failed ({process.returncode}):\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def table_names(url: str) -> list[str]:
    """The ordinary tables of a database's public schema."""
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "select relname from pg_class where relnamespace = 'public'::regnamespace"
            " and relkind = 'r' order by relname"
        )
        names = [r[0] for r in cursor.fetchall()]
    conn.close()
    return names


def seed_source(cluster: Cluster, rows: int) -> tuple[str, int]:
    """Create and fill the source once per size; reuse it when present."""
    scale = max(1, round(rows / ROWS_PER_SCALE))
    name = f"bench_source_{scale}"
    exists = cluster.execute(
        f"select 1 from pg_database where datname = '{name}'"  # noqa: S608
    )
    url = cluster.url(name)
    if not exists:
        cluster.create_database(name)
        started = time.monotonic()
        conn = psycopg2.connect(url)
        create_schema(conn)
        done = [0]

        def progress(table: str, count: int) -> None:
            done[0] += count
            print(
                f"  seeded {table}: {count:,} rows ({done[0]:,} of about "
                f"{scale * ROWS_PER_SCALE:,}, {time.monotonic() - started:.0f} s)",
                flush=True,
            )

        seed(conn, scale=scale, progress=progress)
        conn.commit()
        conn.close()
        cluster.execute("vacuum analyze", dbname=name)
        print(f"seeded scale {scale} in {time.monotonic() - started:.0f} s")
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "select sum(n_live_tup)::bigint from pg_stat_user_tables"
            " where schemaname = 'public'"
        )
        total = int(cursor.fetchone()[0])
    conn.close()
    return url, total


def seed_once(cluster: Cluster, name: str, make_sql: Callable[[], str]) -> str:
    """Create and fill a source database once; reuse it when present.

    Returns:
        Its URL.
    """
    url = cluster.url(name)
    exists = cluster.execute(
        f"select 1 from pg_database where datname = '{name}'"  # noqa: S608
    )
    if not exists:
        cluster.create_database(name)
        started = time.monotonic()
        with psycopg2.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute(make_sql())
        conn.close()
        cluster.execute("vacuum analyze", dbname=name)
        print(f"seeded {name} in {time.monotonic() - started:.0f} s")
    return url


def seed_wide(cluster: Cluster, rows: int) -> tuple[str, int]:
    """The --wide source, once per row count."""
    url = seed_once(
        cluster, f"bench_wide_{rows}", lambda: wide_table_sql(rows, WIDE_MB)
    )
    return url, rows


def tables_source_sql(tables: int) -> str:
    """The --tables source: camelCase tables in foreign-key chains, filled."""
    statements = []
    for i in range(tables):
        parent = i - 1 if i % CHAIN_LENGTH else None
        reference = (
            f' references "benchTable{parent:04d}" ("id")' if parent is not None else ""
        )
        statements.append(
            f'create table "benchTable{i:04d}" ('
            '"id" integer primary key, '
            f'"parentId" integer{reference}, '
            '"displayName" text not null, '
            '"createdAt" timestamptz not null default now(), '
            '"amountCents" bigint)'
        )
        statements.append(
            f'insert into "benchTable{i:04d}" select n, '
            + ("n, " if parent is not None else "null, ")
            + "'row ' || n, timestamptz '2026-01-01' + n * interval '1 minute', "
            f"n * 100 from generate_series(1, {TABLE_ROWS}) n"
        )
    return ";\n".join(statements)


def seed_tables(cluster: Cluster, tables: int) -> tuple[str, int]:
    """The --tables source, once per table count."""
    url = seed_once(
        cluster, f"bench_tables_{tables}", lambda: tables_source_sql(tables)
    )
    return url, tables * TABLE_ROWS


def project_copy(work: Path, name: str) -> Path:
    """A copy of the project without its models, for a source of its own."""
    project = work / name
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(
        ROOT,
        project,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".pgshift", "target", "logs", "bench", "docs", "models"
        ),
    )
    return project


def fresh_database(cluster: Cluster, name: str) -> str:
    """Drop and create a database; return its URL."""
    cluster.drop_database(name)
    return cluster.create_database(name)


def run_pgshift(
    cluster: Cluster,
    source: str,
    rows: int,
    run: int,
    state: Path,
    load_only: bool = False,
    project: Path | None = None,
    jobs: int = 2,
) -> list[Phase]:
    """Run pgshift end to end (or its load only) into an empty database.

    With ``project``, that copy of the project is scaffolded from the
    source first (the phase "scaffold", which end to end leaves out).
    """
    target = fresh_database(cluster, "bench_pgshift")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state),
        "SOURCE_DATABASE_URL": source,
        "TARGET_DATABASE_URL": target,
        "PGSHIFT_STATE_DIR": str(state),
    }
    run_py = [
        sys.executable,
        str((project or ROOT) / "loader" / "run.py"),
        "--jobs",
        str(jobs),
    ]
    phases = []
    steps = [
        ("load", ["load"]),
        ("dbt build", ["dbt", "build"]),
        ("verify", ["verify"]),
    ]
    if project is not None:
        seconds, rss = timed(run_py + ["scaffold"], env, cwd=project)
        phases.append(Phase(run, "scaffold", "scaffold", seconds, rows, rss))
    for phase, args in steps[:1] if load_only else steps:
        seconds, rss = timed(run_py + args, env, cwd=project)
        phases.append(Phase(run, "pgshift", phase, seconds, rows, rss))
    return phases


def rename_statements(url: str) -> list[sql.Composed]:
    """ALTER TABLE ... RENAME COLUMN for every column the rules rename."""
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "select c.relname, a.attname from pg_attribute a"
            " join pg_class c on c.oid = a.attrelid"
            " where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'"
            " and a.attnum > 0 and not a.attisdropped order by 1, a.attnum"
        )
        pairs = cursor.fetchall()
    conn.close()
    return [
        sql.SQL("alter table {} rename column {} to {}").format(
            sql.Identifier(table),
            sql.Identifier(column),
            sql.Identifier(to_snake(column)),
        )
        for table, column in pairs
        if to_snake(column) != column
    ]


def run_baseline(
    cluster: Cluster, source: str, rows: int, run: int, work: Path, jobs: int = 2
) -> list[Phase]:
    """pg_dump -Fd -jN, pg_restore -jN, then the renames, into an empty database."""
    target = fresh_database(cluster, "bench_baseline")
    bin_dir = cluster.bin_dir
    dump = work / f"dump-{run}"
    seconds_dump, rss_dump = timed(
        [str(bin_dir / "pg_dump"), "-Fd", f"-j{jobs}", "-f", str(dump), "-d", source]
    )
    seconds_restore, rss_restore = timed(
        [
            str(bin_dir / "pg_restore"),
            f"-j{jobs}",
            "--no-owner",
            "-d",
            target,
            str(dump),
        ]
    )
    subprocess.run(["rm", "-rf", str(dump)], check=True)
    started = time.monotonic()
    with psycopg2.connect(target) as conn, conn.cursor() as cursor:
        for statement in rename_statements(target):
            cursor.execute(statement)
    conn.close()
    seconds_rename = time.monotonic() - started
    return [
        Phase(run, "pg_dump|pg_restore", "pg_dump", seconds_dump, rows, rss_dump),
        Phase(
            run,
            "pg_dump|pg_restore",
            "pg_restore",
            seconds_restore,
            rows,
            rss_restore,
        ),
        Phase(run, "pg_dump|pg_restore", "renames", seconds_rename, rows, 0.0),
    ]


def run_copy_pipe(
    cluster: Cluster, source: str, rows: int, run: int, jobs: int = 2
) -> list[Phase]:
    """Tables without indexes or keys, filled by COPY pipes N at a time."""
    target = fresh_database(cluster, "bench_copy")
    bin_dir = cluster.bin_dir
    schema = subprocess.run(
        [str(bin_dir / "pg_dump"), "--section=pre-data", "--no-owner", "-d", source],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        [str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", target],
        input=schema,
        check=True,
        capture_output=True,
    )
    psql = str(bin_dir / "psql")

    def pipe(table: str) -> float:
        quoted = '"' + table.replace('"', '""') + '"'
        command = (
            f"{psql} -d '{source}' -c 'copy {quoted} to stdout' | "
            f"{psql} -d '{target}' -c 'copy {quoted} from stdin'"
        )
        return timed(["bash", "-o", "pipefail", "-c", command])[1]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        peaks = list(pool.map(pipe, table_names(source)))
    seconds = time.monotonic() - started
    return [Phase(run, "COPY pipe", "copy", seconds, rows, max(peaks))]


def totals(phases: list[Phase]) -> dict[str, float]:
    """Median over the runs of each contender's total time."""
    per_run: dict[tuple[str, int], float] = {}
    for p in phases:
        per_run[(p.contender, p.run)] = per_run.get((p.contender, p.run), 0.0) + (
            p.seconds
        )
    out: dict[str, list[float]] = {}
    for (contender, _), seconds in per_run.items():
        out.setdefault(contender, []).append(seconds)
    return {c: statistics.median(v) for c, v in out.items()}


def median_phase(phases: list[Phase], contender: str, phase: str) -> float:
    """Median seconds of one phase of one contender over the runs."""
    return statistics.median(
        p.seconds for p in phases if p.contender == contender and p.phase == phase
    )


def write_results(phases: list[Phase], name: str, rows: int, what: str = "") -> Path:
    """Write the CSV and, with matplotlib, the PNG plot; return the CSV's path."""
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "run",
                "contender",
                "phase",
                "seconds",
                "rows",
                "rows_per_s",
                "peak_rss_mb",
            ]
        )
        for p in phases:
            writer.writerow(
                [
                    p.run,
                    p.contender,
                    p.phase,
                    f"{p.seconds:.2f}",
                    p.rows,
                    f"{p.rows_per_s:.0f}",
                    f"{p.peak_rss_mb:.0f}",
                ]
            )
    plot(phases, path.with_suffix(".png"), rows, what)
    return path


def plot(phases: list[Phase], png: Path, rows: int, what: str = "") -> None:
    """Draw each contender's phases as one stacked bar of median seconds."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (make bench installs it)")
        return
    contenders = ["pgshift", "pg_dump|pg_restore", "COPY pipe"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    label_min = 0.15 * max(totals(phases).values())
    for y, contender in enumerate(contenders):
        left = 0.0
        names = dict.fromkeys(p.phase for p in phases if p.contender == contender)
        for phase in names:
            width = median_phase(phases, contender, phase)
            ax.barh(
                y, width, left=left, edgecolor="white", label=f"{contender}: {phase}"
            )
            if width > label_min:
                ax.text(
                    left + width / 2, y, phase, ha="center", va="center", fontsize=8
                )
            left += width
    ax.set_yticks(range(len(contenders)), contenders)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (median of runs)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{rows:,} rows: {what or 'sample marketplace'}, 2 cores")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def run_contenders(
    cluster: Cluster,
    source: str,
    rows: int,
    repeat: int,
    work: Path,
    load_only: bool = False,
    project: Path | None = None,
    jobs: int = 2,
) -> list[Phase]:
    """Every contender ``repeat`` times on one source, printing each phase."""
    phases: list[Phase] = []
    for run in range(1, repeat + 1):
        got = run_baseline(cluster, source, rows, run, work, jobs)
        got += run_copy_pipe(cluster, source, rows, run, jobs)
        got += run_pgshift(cluster, source, rows, run, work, load_only, project, jobs)
        for p in got:
            print(
                f"run {run} {p.contender:20} {p.phase:16} "
                f"{p.seconds:8.1f} s {p.rows_per_s:10,.0f} rows/s "
                f"{p.peak_rss_mb:6.0f} MB",
                flush=True,
            )
        phases += got
    return phases


def summarize(phases: list[Phase], rows: int, repeat: int, scope: str) -> None:
    """Print the medians and the ratios against the baseline and the pipe."""
    total = totals(phases)
    load = median_phase(phases, "pgshift", "load")
    dump_restore = median_phase(phases, "pg_dump|pg_restore", "pg_dump") + median_phase(
        phases, "pg_dump|pg_restore", "pg_restore"
    )
    print(f"\nmedians over {repeat} runs, {rows:,} rows:")
    for contender, seconds in total.items():
        print(f"  {contender:20} {seconds:8.1f} s")
    print(f"  pgshift load / pg_dump|pg_restore:          {load / dump_restore:5.2f}")
    print(
        f"  pgshift {scope} / (pg_dump|pg_restore + renames): "
        f"{total['pgshift'] / total['pg_dump|pg_restore']:5.2f}"
    )
    print(
        f"  pgshift {scope} / COPY pipe:             "
        f"{total['pgshift'] / total['COPY pipe']:5.2f}"
    )
    peak = max(p.peak_rss_mb for p in phases if p.contender == "pgshift")
    print(f"  pgshift peak RSS (any phase):               {peak:5.0f} MB")


def plot_sweep(sweep: dict[int, dict[str, float]], png: Path) -> None:
    """Draw end to end against the number of tables, per contender."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (make bench installs it)")
        return
    counts = sorted(sweep)
    fig, ax = plt.subplots(figsize=(7, 4))
    for contender in ("pgshift", "pg_dump|pg_restore", "COPY pipe"):
        ax.plot(
            counts,
            [sweep[n][contender] for n in counts],
            marker="o",
            label=contender,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"tables ({TABLE_ROWS} rows, {TABLE_COLUMNS} columns each)")
    ax.set_ylabel("seconds end to end (median of runs)")
    ax.set_title("Cost per table, 2 cores")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def write_sweep(sweep: dict[int, dict[str, float]]) -> Path:
    """Write tables.csv (median end to end per table count) and tables.png."""
    path = ROOT / "bench" / "results" / "tables.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tables", "contender", "seconds"])
        for count in sorted(sweep):
            for contender, seconds in sweep[count].items():
                writer.writerow([count, contender, f"{seconds:.2f}"])
    plot_sweep(sweep, path.with_suffix(".png"))
    return path


def table_counts(text: str) -> list[int]:
    """``--tables 25,100,300``: the table counts, each at least 1."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number of tables, or several separated by commas"
        ) from None
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: every count must be 1 or more")
    return counts


def main() -> int:
    """Seed, run every contender --repeat times, report medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=sorted(PRESETS), default="1m")
    size.add_argument("--rows", type=int, help="any total row count instead")
    size.add_argument(
        "--wide",
        type=int,
        metavar="N",
        help=f"one table of N rows of {WIDE_MB} MB text + {WIDE_MB} MB bytea instead",
    )
    size.add_argument(
        "--tables",
        type=table_counts,
        metavar="N[,N...]",
        help=f"N tables of {TABLE_ROWS} rows instead (several: a sweep)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="parallel jobs of every contender: pgshift --jobs, pg_dump and "
        "pg_restore -j, COPY pipes at a time (default 2)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".pgshift" / "bench",
        help="where the benchmark's cluster lives (the seeded source is kept)",
    )
    parser.add_argument(
        "--replot",
        type=Path,
        metavar="CSV",
        help="only draw the plot again from a results CSV",
    )
    args = parser.parse_args()
    if args.replot:
        with args.replot.open(newline="") as handle:
            phases = [
                Phase(
                    int(r["run"]),
                    r["contender"],
                    r["phase"],
                    float(r["seconds"]),
                    int(r["rows"]),
                    float(r["peak_rss_mb"]),
                )
                for r in csv.DictReader(handle)
            ]
        plot(phases, args.replot.with_suffix(".png"), phases[0].rows)
        return 0
    cluster = Cluster(args.data_dir / "data", bin_dir=find_server_binaries())
    if not (cluster.data_dir / "PG_VERSION").exists():
        cluster.init()
    cluster.start(settings=SERVER_SETTINGS)
    try:
        with tempfile.TemporaryDirectory(prefix="pgshift-bench-") as tmp:
            work = Path(tmp)
            os.chmod(work, 0o755)
            if args.tables:
                sweep: dict[int, dict[str, float]] = {}
                for count in args.tables:
                    source, rows = seed_tables(cluster, count)
                    print(f"source: {count} tables, {rows:,} rows")
                    project = project_copy(work, f"project-{count}")
                    phases = run_contenders(
                        cluster,
                        source,
                        rows,
                        args.repeat,
                        work,
                        project=project,
                        jobs=args.jobs,
                    )
                    path = write_results(
                        phases, f"tables{count}", rows, f"{count} tables"
                    )
                    summarize(phases, rows, args.repeat, "end to end")
                    print(f"results: {path}")
                    sweep[count] = {
                        c: t for c, t in totals(phases).items() if c != "scaffold"
                    }
                if len(sweep) > 1:
                    print(f"sweep: {write_sweep(sweep)}")
                return 0
            if args.wide:
                source, rows = seed_wide(cluster, args.wide)
                print(f"source: {rows:,} rows of {3 * WIDE_MB} MB of text")
            else:
                source, rows = seed_source(cluster, args.rows or PRESETS[args.preset])
                print(f"source: {rows:,} rows in {len(BASE_COUNTS)} tables")
            phases = run_contenders(
                cluster,
                source,
                rows,
                args.repeat,
                work,
                bool(args.wide),
                jobs=args.jobs,
            )
        name = args.preset
        if args.rows:
            name = f"{args.rows}rows"
        if args.wide:
            name = f"wide{args.wide}"
        if args.jobs != 2:
            name += f"-j{args.jobs}"
        path = write_results(phases, name, rows)
    finally:
        cluster.stop()
    summarize(phases, rows, args.repeat, "load only" if args.wide else "end to end")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
