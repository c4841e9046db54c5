"""Row-level security: every row the source holds, or a refusal.

Every source transaction of the load reads with ``row_security = off``, as
pg_dump does: a table whose policies apply to the source user stops the
load (exit code 2, naming the table and what to do) instead of arriving
with only the rows they let through, and nothing is left in raw that a
verify would call complete. Scaffold refuses exactly the tables the load
refuses, with the same reason, whatever their policies say: a
``using (true)`` policy that hides nothing applies all the same, and is no
reason to refuse a user it does not apply to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from pgshift.catalog import ROW_SECURITY_REFUSAL
from pgshift.load.extract import (
    ReadPlan,
    SourceCopier,
    background_fingerprints,
    open_snapshot,
)
from pgshift.settings import DatabaseUrl

from migration import copy_project, query, run_cli

OWNER, READER, BYPASS = "rls_owner", "rls_reader", "rls_bypass"

SOURCE = """
create table notes (id integer primary key, body text not null);
insert into notes select n, 'note ' || n from generate_series(1, 10) n;
alter table notes enable row level security;
create policy notes_first_half on notes using (id <= 5);

create table open_notes (id integer primary key);
insert into open_notes select generate_series(1, 10);
alter table open_notes enable row level security;
create policy open_notes_all on open_notes using (true);

create table forced_notes (id integer primary key);
insert into forced_notes select generate_series(1, 10);
alter table forced_notes enable row level security;
alter table forced_notes force row level security;
create policy forced_notes_all on forced_notes using (true);

grant select on all tables in schema public to rls_reader, rls_bypass;
"""
"""Three tables owned by rls_owner, ten rows each: one whose policy shows
the first five rows, one whose policy shows every row, and one like it
that forces row security on its owner too."""

REFUSED = {
    READER: {"notes", "open_notes", "forced_notes"},
    OWNER: {"forced_notes"},
    BYPASS: set(),
}
"""What PostgreSQL refuses to read under row_security = off, per role: the
policies apply to a role that owns nothing whatever they say, to the owner
only where the table forces them, and never to a role with BYPASSRLS."""


@dataclass
class Source:
    """The source database, the URL of each role, and a target."""

    urls: dict[str, str]
    target: str
    tmp: Path

    def project(self, name: str) -> Path:
        """A copy of the project of its own, whose scaffold writes its models."""
        return copy_project(self.tmp / name / "pgshift")

    def run(
        self, project: Path, role: str, *args: str, target: str | None = None
    ) -> tuple[int, str, str]:
        state = self.tmp / project.parent.name / "state"
        done = run_cli(
            list(args), self.urls[role], target or self.target, state, project
        )
        return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def source(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    cluster = pg_cluster
    cluster.execute(  # type: ignore[attr-defined]
        f"create role {OWNER} login; create role {READER} login; "
        f"create role {BYPASS} login bypassrls"
    )
    url = cluster.create_database("rls_source")  # type: ignore[attr-defined]
    target = cluster.create_database("rls_target")  # type: ignore[attr-defined]
    query(
        url,
        f"grant create on schema public to {OWNER}; set role {OWNER}; {SOURCE}",
    )
    urls = {
        role: cluster.url("rls_source", user=role)  # type: ignore[attr-defined]
        for role in (OWNER, READER, BYPASS)
    }
    yield Source(urls, target, tmp_path_factory.mktemp("rls"))
    for name in ("rls_source", "rls_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]
    cluster.execute(f"drop role {OWNER}, {READER}, {BYPASS}")  # type: ignore[attr-defined]


def test_a_table_the_user_sees_in_part_stops_the_load(
    source: Source, new_database: object
) -> None:
    project = source.project("partial")
    code, _, stderr = source.run(
        project, OWNER, "--exclude", "forced_notes", "scaffold"
    )
    assert code == 0, stderr
    target = new_database()  # type: ignore[operator]
    for command in ("load", "migrate"):
        code, stdout, stderr = source.run(
            project, READER, "--exclude", "forced_notes", command, target=target
        )
        assert code == 2, stdout + stderr
        assert f"source table notes: {ROW_SECURITY_REFUSAL}" in stderr
        assert "`--exclude notes`" in stderr
        assert "attempt" not in stderr and "Traceback" not in stderr
    # Nothing landed that a verify could vouch for.
    assert query(target, "select count(*) from pg_tables where schemaname = 'raw'") == [
        (0,)
    ]
    code, _, stderr = source.run(project, READER, "verify", target=target)
    assert code == 2 and "no load manifest" in stderr
    # A role the policies do not apply to migrates every row.
    for role in (BYPASS, OWNER):
        code, stdout, stderr = source.run(
            project, role, "--exclude", "forced_notes", "migrate", target=target
        )
        assert code == 0, stdout[-3000:] + stderr[-3000:]
        assert "| notes | 10 | 10 | match |" in stdout
        assert "| open_notes | 10 | 10 | match |" in stdout


def test_scaffold_refuses_what_the_load_refuses_with_the_same_reason(
    source: Source,
) -> None:
    project = source.project("same")
    tables = ("notes", "open_notes", "forced_notes")
    for role, refused in REFUSED.items():
        # One scaffold of every table lists exactly the tables refused.
        code, _, scaffolded = source.run(project, role, "scaffold")
        listed = {
            t for t in tables if f"\n  {t}: {ROW_SECURITY_REFUSAL}\n" in scaffolded
        }
        assert listed == refused, role + scaffolded
        assert code == (2 if refused else 0), role + scaffolded
        if refused:
            excluded = scaffolded.split("--exclude ", 1)[1].split(" scaffold`", 1)[0]
            assert set(excluded.split(",")) == refused, role + scaffolded
        assert "hides rows" not in scaffolded, role
        # The load stops at the first table it cannot read: one load per
        # refused table, and one of all the others. (A scaffold leaving the
        # refused tables out succeeds: the test above.)
        for table in sorted(refused):
            case = f"{role} reading {table}"
            code, _, loaded = source.run(project, role, "--include", table, "load")
            assert code == 2, case
            assert f"source table {table}: {ROW_SECURITY_REFUSAL}" in loaded, case
            assert "hides rows" not in loaded, case
        read = [t for t in tables if t not in refused]
        if not read:
            continue
        code, _, loaded = source.run(project, role, "--include", ",".join(read), "load")
        assert code == 0, role + loaded
        assert "hides rows" not in loaded, role
        for table in read:
            rows = query(source.target, f"select count(*) from raw.{table}")
            assert rows == [(10,)], f"{role} reading {table}"


def test_every_source_transaction_of_the_load_reads_with_row_security_off(
    source: Source, tmp_path: Path
) -> None:
    reader = DatabaseUrl.parse("source", source.urls[READER])
    refused = pytest.raises(
        psycopg2.errors.InsufficientPrivilege, match="row-level security policy"
    )
    with open_snapshot(reader) as snapshot:
        notes = snapshot.read_catalog("public").tables["notes"]
        with refused:
            snapshot.count(notes)
    with (
        open_snapshot(reader) as snapshot,
        SourceCopier(reader, snapshot, tmp_path / "copies") as copier,
    ):
        [copy] = copier.submit(notes, ReadPlan())
        with refused:
            copy.result()
    with (
        open_snapshot(reader) as snapshot,
        background_fingerprints(reader, snapshot, [notes]) as figures,
        refused,
    ):
        figures.result()
