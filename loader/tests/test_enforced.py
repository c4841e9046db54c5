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

from migration import MigratedSample, constraint_backed_tests


def test_constraint_backed_tests_scan_no_final_table(
    migrated_sample: MigratedSample,
) -> None:
    checked = constraint_backed_tests(
        migrated_sample.artifacts, migrated_sample.target_url
    )
    # 25 keys, 25 NOT NULL key columns, 46 foreign keys, 11 composite keys.
    assert checked == {
        "unique": 25,
        "not_null": 25,
        "relationships": 46,
        "pgshift_unique_combination": 11,
    }
