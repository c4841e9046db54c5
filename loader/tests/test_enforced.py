"""Tests that PostgreSQL's own constraints already prove read no rows.

Every final table gets its keys, indexes and foreign keys in its model's
post-hook, so by the time the uniqueness, not_null and relationships tests
run, PostgreSQL enforces what they check. Those tests then answer from the
catalog: their scan of the table is a constant-false branch the executor
never runs. When the constraint is missing, they scan (test_publish.py shows
them failing on a duplicate key and an orphan). Multi-column keys
(``pgshift_relationships``) are checked on the second source
(test_second_source.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pgshift.settings import PROJECT_DIR

from migration import constraint_backed_tests, run_cli, seed_sample


def test_constraint_backed_tests_scan_no_final_table(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=1)
    migrated = run_cli(["migrate"], source, target, tmp_path / "state")
    assert migrated.returncode == 0, migrated.stdout[-3000:]

    checked = constraint_backed_tests(PROJECT_DIR, target)
    # 25 keys, 25 NOT NULL key columns, 46 foreign keys, 11 composite keys.
    assert checked == {
        "unique": 25,
        "not_null": 25,
        "relationships": 46,
        "pgshift_unique_combination": 11,
    }
