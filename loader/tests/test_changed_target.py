"""verify on a target the team has changed: every change a listed difference.

Each case takes a copy of the session's migrated sample (``sample_copy``),
changes the copy's target as a team might (a column added,
dropped or retyped, a final table dropped, a constraint renamed, a raw
table dropped under a changed row) and runs ``python loader/run.py verify``:
exit code 1, a line naming the table and the change, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from migration import MigratedSample, query, run_cli

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
        # Nothing of pgshift's reads the column between runs: the
        # application's own ALTER works on the target as on the source.
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
        # Without its primary key the table still has a unique key over a
        # NOT NULL column: the differing row is named by it, and only its
        # changed column is shown (never the whole row, password hash and
        # all).
        "a row changed in a table without its primary key",
        "alter table public.users drop constraint users_pkey cascade; "
        "update public.users set first_name = 'Changed' where id = 3",
        [
            "schema differs: users: primary key None",
            "email=user3@example.com: first_name expected '",
            "', found 'Changed'",
        ],
    ),
    (
        # Every insert drawing from it would fail on the target.
        "a sequence used up",
        "select setval('public.users_id_seq', 2147483647)",
        [
            "sequence behind: users_id_seq: the target's sequence is used up "
            "(its next value, 2147483648, is past its bound, 2147483647)",
        ],
    ),
    (
        "a raw table dropped under a changed row",
        "drop table raw.messages; "
        "update public.messages set content = 'changed' where id = 7",
        [
            "messages: content checksum",
            "the differing rows could not be listed: relation "
            '"raw.messages" does not exist',
        ],
    ),
]
"""(what the team did, the SQL that does it, lines verify must print)."""


def test_verify_lists_each_change_of_the_target(
    sample_copy: Callable[[], MigratedSample], tmp_path: Path
) -> None:
    failures = []
    for what, change, expected in CHANGES:
        copy = sample_copy()
        query(copy.target_url, change)
        done = run_cli(["verify"], copy.source_url, copy.target_url, tmp_path / "s")
        missing = [line for line in expected if line not in done.stdout]
        if done.returncode != 1 or missing or "Traceback" in done.stderr:
            failures.append(
                f"{what}: exit {done.returncode}, missing {missing}\n"
                f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        if "(no key)" in done.stdout:
            failures.append(f"{what}: a row shown whole, without its key")
        if what == "a column dropped" and "raw differs" in done.stdout:
            failures.append(f"{what}: raw is reported to differ from the source")
    assert not failures, "\n\n".join(failures)


def test_a_column_added_on_both_sides_asks_for_scaffold_once(
    sample_copy: Callable[[], MigratedSample], tmp_path: Path
) -> None:
    # The application's own migration, run on the source and on the target.
    copy = sample_copy()
    for url in (copy.source_url, copy.target_url):
        query(url, "alter table public.users add column member_id integer")
    done = run_cli(["verify"], copy.source_url, copy.target_url, tmp_path / "s")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "users: source column 'member_id' is not in the name map" in done.stdout
    assert "column member_id is not in the source" not in done.stdout
