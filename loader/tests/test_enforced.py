"""Checks that PostgreSQL's own constraints already prove read no rows.

Every final table gets its keys, indexes and foreign keys in its model's
post-hook, so by the time its ``pgshift_constraints`` test checks them (and
its key columns' NOT NULL, and its enum columns' labels), PostgreSQL
enforces what it checks. The test asks the catalog as it is compiled and
leaves those checks out of its query: the one scan it makes of each table
is its checksum's, against the source's figures. When a constraint is
missing, it scans (test_publish.py shows it failing on a duplicate key and
an orphan). Multi-column foreign keys are checked on the second source
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
    # Every table's checks, ten tables a test: 26 checksums, 36 keys, 27 NOT
    # NULL key columns, 46 foreign keys and 5 enum columns.
    assert checked == {"pgshift_constraints": 26}
