"""What dbt itself costs per model, beside what pgshift's build of the same count costs.

Usage::

    python bench/dbt_floor.py --tables 300 --repeat 2

``--tables N`` builds, on a throwaway PostgreSQL cluster (the one
``bench/run.py`` uses, in ``--data-dir``), two dbt projects of N models and
nothing else, with the dbt and the threads pgshift uses:

- ``no-op``: each model's materialization runs one ``select 1`` and creates
  nothing, so the time is dbt's own: starting, reading the parsed project,
  and running a node per model on two threads;
- ``table``: each model is ``select 1 as id, 'x'::text as name`` under dbt's
  own ``table`` materialization (create as, rename, drop of the backup).

Both are parsed first and built ``--repeat`` times, alternating, each into
an empty database. With ``--pgshift-project DIR`` (a copy of the project
scaffolded from the ``--tables N`` source of ``bench/run.py``, with its
load done into ``--pgshift-target``), ``run.py dbt build`` of that project
runs in the same alternation, so the three compare on one machine state.
Prints and writes ``bench/results/dbt-floor<N>.csv``: the wall time of each
``dbt build`` command, from start to exit.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "loader"))

from pgshift.demo.cluster import Cluster, find_server_binaries  # noqa: E402

NOOP_MATERIALIZATION = """\
{% materialization noop, default %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {% call statement('main') -%} select 1 {%- endcall %}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
"""


def make_project(work: Path, kind: str, models: int, cluster: Cluster) -> Path:
    """A dbt project of ``models`` one-line models under materialization ``kind``."""
    project = work / kind
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "macros" / "noop.sql").write_text(NOOP_MATERIALIZATION)
    (project / "dbt_project.yml").write_text(
        f"name: floor\nversion: '1.0'\nprofile: floor\n"
        f"models:\n  floor:\n    +materialized: {kind.replace('-', '')}\n"
    )
    (project / "profiles.yml").write_text(
        "floor:\n  target: t\n  outputs:\n    t:\n      type: postgres\n"
        f"      host: 127.0.0.1\n      port: {cluster.port}\n"
        f"      user: {cluster.superuser}\n"
        "      password: \"{{ env_var('FLOOR_PASSWORD', '') }}\"\n"
        f"      dbname: floor_{kind.replace('-', '')}\n"
        "      schema: public\n      threads: 2\n"
    )
    for number in range(models):
        (project / "models" / f"m{number:04d}.sql").write_text(
            "select 1 as id, 'x'::text as name\n"
        )
    return project


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run a command; return its wall time (exit 0 required)."""
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}")
    return time.monotonic() - started


def main() -> int:
    """Build the projects and print the wall time of each build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".pgshift" / "bench")
    parser.add_argument("--pgshift-project", type=Path)
    parser.add_argument("--pgshift-target", help="the load's target URL")
    args = parser.parse_args()
    dbt = str(Path(sys.executable).parent / "dbt")
    cluster = Cluster(args.data_dir / "data", bin_dir=find_server_binaries())
    if not (cluster.data_dir / "PG_VERSION").exists():
        cluster.init()
    if not cluster.is_running():
        cluster.start()
    rows: list[tuple[int, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="pgshift-floor-") as tmp:
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": ".",
            "DO_NOT_TRACK": "1",
            "FLOOR_PASSWORD": cluster.password or "",
        }
        projects = {
            kind: make_project(Path(tmp), kind, args.tables, cluster)
            for kind in ("no-op", "table")
        }
        for project in projects.values():
            timed([dbt, "parse"], project, env)
        for run in range(1, args.repeat + 1):
            for kind, project in projects.items():
                database = f"floor_{kind.replace('-', '')}"
                cluster.drop_database(database)
                cluster.create_database(database)
                seconds = timed([dbt, "build", "--threads", "2"], project, env)
                rows.append((run, f"dbt, {kind} models", seconds))
                print(f"run {run} {kind:>6}: {seconds:.1f} s", flush=True)
            if args.pgshift_project:
                pgshift_env = {**os.environ, "TARGET_DATABASE_URL": args.pgshift_target}
                command = [sys.executable, "loader/run.py", "--jobs", "2"]
                seconds = timed(
                    [*command, "dbt", "build"], args.pgshift_project, pgshift_env
                )
                rows.append((run, "pgshift dbt build", seconds))
                print(f"run {run} pgshift dbt build: {seconds:.1f} s", flush=True)
    path = ROOT / "bench" / "results" / f"dbt-floor{args.tables}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "contender", "models", "seconds"])
        writer.writerows((run, name, args.tables, f"{s:.2f}") for run, name, s in rows)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
