"""verify on a target the team has changed: every change a listed difference.

The sample is migrated once; each case copies the migrated target (``create
database ... template``), changes the copy as a team might (a column added,
dropped or retyped, a final table dropped, a constraint renamed, a staging
view dropped under a changed row) and runs ``python loader/run.py verify``:
exit code 1, a line naming the table and the change, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pgshift.load import load
from pgshift.transform import run_dbt

from migration import Migration, make_settings, run_cli, seed_sample

CHANGES = [
    (
        "a column added",
        "alter table public.users add column nickname text",
        [
            "schema differs: users: column nickname is not in the source",
            # The source's columns are what was checksummed: they still match.
            "| users | 19 | 19 | match |",
        ],
    ),
    (
        "a column dropped",
        "alter table public.users drop column avatar_url cascade",
        [
            "schema differs: users: column avatar_url is missing",
            "users: final table users has no column avatar_url",
        ],
    ),
    (
        "a column retyped",
        # pgshift's view onto the published table holds the column's type.
        "drop view public_pgshift_build.users; "
        "alter table public.users alter column is_verified type text",
        [
            "schema differs: users.is_verified: type 'text', source 'boolean'",
            "users: content checksum",
        ],
    ),
    (
        "a final table dropped",
        "drop table public.reviews cascade",
        [
            "schema differs: reviews: missing on the target",
            "reviews: final table reviews does not exist",
        ],
    ),
    (
        "a constraint renamed",
        "alter table public.users rename constraint users_email_key "
        "to users_email_uniq",
        [
            "schema differs: users: unique constraint "
            "('users_email_uniq', 'UNIQUE (email)') is not in the source",
            "schema differs: users: unique constraint "
            "('users_email_key', 'UNIQUE (email)') is missing",
        ],
    ),
    (
        "a staging view dropped under a changed row",
        "drop view staging.stg_app__messages cascade; "
        "update public.messages set content = 'changed' where id = 7",
        [
            "messages: content checksum",
            "the differing rows could not be listed: relation "
            '"staging.stg_app__messages" does not exist',
        ],
    ),
]
"""(what the team did, the SQL that does it, lines verify must print)."""


@pytest.fixture(scope="module")
def migrated(pg_cluster, tmp_path_factory) -> Iterator[Migration]:  # noqa: ANN001
    source = pg_cluster.create_database("changed_source")
    target = pg_cluster.create_database("changed_target")
    seed_sample(source, scale=1)
    settings = make_settings(source, target, state_dir=tmp_path_factory.mktemp("c"))
    load(settings)
    assert run_dbt(settings, ["build"]).success
    yield Migration(source, target, settings)
    pg_cluster.drop_database("changed_source")
    pg_cluster.drop_database("changed_target")


def test_verify_lists_each_change_of_the_target(
    migrated: Migration,
    pg_cluster,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    failures = []
    for what, change, expected in CHANGES:
        pg_cluster.drop_database("changed_copy")
        pg_cluster.execute("create database changed_copy template changed_target")
        copy = pg_cluster.url("changed_copy")
        pg_cluster.execute(change, dbname="changed_copy")
        done = run_cli(["verify"], migrated.source_url, copy, tmp_path / "state")
        missing = [line for line in expected if line not in done.stdout]
        if done.returncode != 1 or missing or "Traceback" in done.stderr:
            failures.append(
                f"{what}: exit {done.returncode}, missing {missing}\n"
                f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        if what == "a column dropped" and "raw differs" in done.stdout:
            failures.append(f"{what}: raw is reported to differ from the source")
    pg_cluster.drop_database("changed_copy")
    assert not failures, "\n\n".join(failures)
