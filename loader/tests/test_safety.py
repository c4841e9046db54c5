"""Production credentials: a password-protected source and target, a source
role that can only read, and no secret in anything the run prints or writes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgshift.demo.cluster import FAST_TEST_SETTINGS, Cluster
from pgshift.settings import PROJECT_DIR

from migration import query, run_cli, seed_sample

PASSWORD = "Sup3r-Secret-pgshift-77"
READER_PASSWORD = "Reader-Secret-pgshift-55"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A server that asks every TCP connection for a scram-sha-256 password."""
    cluster = Cluster(tmp_path_factory.mktemp("secure") / "data")
    cluster.init(auth="scram-sha-256", password=PASSWORD)
    cluster.start(
        settings=FAST_TEST_SETTINGS,
        hba_lines=["host all all 127.0.0.1/32 scram-sha-256"],
    )
    yield cluster
    cluster.stop()


def _catalog_fingerprint(url: str) -> list[tuple]:
    return query(
        url,
        "select c.relname, c.relkind, "
        "(select count(*) from pg_attribute a where a.attrelid = c.oid) "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') "
        "order by 1",
    ) + query(
        url,
        "select proname from pg_proc where pronamespace = "
        "'public'::regnamespace order by 1",
    )


def _data_fingerprint(url: str) -> list[tuple]:
    tables = [
        r[0]
        for r in query(
            url,
            "select tablename from pg_tables where schemaname = 'public' order by 1",
        )
    ]
    return [
        query(
            url,
            f"select '{t}', md5(coalesce(string_agg(x::text, '|' "
            f"order by x::text), '')) from public.\"{t}\" x",
        )[0]
        for t in tables
    ]


def test_read_only_role_migrates_and_nothing_leaks(
    secured: Cluster, tmp_path: Path
) -> None:
    source_admin = secured.create_database("secure_source")
    target = secured.create_database("secure_target")
    seed_sample(source_admin, scale=1)
    secured.execute(
        f"create role reader login password '{READER_PASSWORD}'; "
        "revoke all on database secure_source from public; "
        "grant connect on database secure_source to reader"
    )
    secured.execute(
        "revoke create on schema public from public; "
        "grant usage on schema public to reader; "
        "grant select on all tables in schema public to reader",
        dbname="secure_source",
    )
    source = secured.url("secure_source", user="reader", password=READER_PASSWORD)
    catalog_before = _catalog_fingerprint(source_admin)
    data_before = _data_fingerprint(source_admin)

    state = tmp_path / "state"
    # Tables the role may not read (one whole, one but a column) are named
    # together with the grant, before anything is written.
    secured.execute(
        "revoke select on reviews, users from reader; "
        "grant select (id, email) on users to reader",
        dbname="secure_source",
    )
    # A target role that may create nothing there is told the grants first.
    as_reader = secured.url("secure_target", user="reader", password=READER_PASSWORD)
    secured.execute("grant connect on database secure_target to reader")
    refused = run_cli(["migrate"], source, as_reader, state)
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert (
        "migrate refused, nothing was written: the target role reader may not "
        "create the schemas pgshift, raw, public_pgshift_build in database "
        "secure_target, nor the final tables in schema public. Next: as the "
        "database's owner or a superuser, run on the target `GRANT CREATE ON "
        'DATABASE "secure_target" TO "reader"; GRANT CREATE ON SCHEMA "public" TO '
        '"reader";`'
    ) in refused.stderr
    refused = run_cli(["migrate"], source, target, state)
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert (
        "the source role reader may not read 2 of the tables to migrate: "
        "reviews, users; nothing was written. Next: on the source, as their owner "
        'or a superuser, run `GRANT SELECT ON TABLE "public"."reviews", '
        '"public"."users" TO "reader";`, or leave them out: --exclude reviews,users'
    ) in refused.stderr
    assert query(
        target,
        "select count(*) from pg_namespace where nspname in ('raw', 'pgshift')",
    ) == [(0,)]
    secured.execute("grant select on reviews, users to reader", dbname="secure_source")
    result = run_cli(["migrate"], source, target, state)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "26 tables, 26 complete" in result.stdout

    # The source is exactly as it was: no object created, no row changed.
    assert _catalog_fingerprint(source_admin) == catalog_before
    assert _data_fingerprint(source_admin) == data_before
    assert query(source_admin, "select count(*) from pg_replication_slots") == [(0,)]

    # A failing run too: a wrong password on the target.
    bad_target = secured.url("secure_target", password=PASSWORD + "x")
    failed = run_cli(["migrate"], source, bad_target, state)
    assert failed.returncode == 2
    assert "password" in failed.stderr.lower()

    printed = result.stdout + result.stderr + failed.stdout + failed.stderr
    for secret in (PASSWORD, READER_PASSWORD):
        assert secret not in printed
        leaks = subprocess.run(
            [
                "grep",
                "-rl",
                "--binary-files=text",
                secret,
                str(state),
                str(Path.cwd() / "target"),
                str(Path.cwd() / "logs"),
                str(Path.cwd() / "MIGRATION_REPORT.md"),
                str(Path.cwd() / "MIGRATION_REPORT.json"),
            ],
            capture_output=True,
            text=True,
        )
        assert leaks.stdout == "", f"secret written to {leaks.stdout}"


_TELEMETRY_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
from pgshift.load import _configure_dlt
_configure_dlt()
import dlt
dlt.pipeline(pipeline_name="probe", pipelines_dir=sys.argv[2])
from dlt.common.runtime import anon_tracker
print(anon_tracker._ANON_TRACKER_ENDPOINT)
"""


def test_dlt_sends_no_usage_events(tmp_path: Path) -> None:
    """dlt's anonymous tracker is never set up in the loader's process."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _TELEMETRY_PROBE,
            str(PROJECT_DIR / "loader"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "None"
