"""The sample marketplace source: counts, determinism, hostile values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgshift.demo.sample.seed import BASE_COUNTS, HOSTILE_TEXTS, expected_counts

from migration import query, seed_sample


def _counts(url: str) -> dict[str, int]:
    return {
        table: query(url, f'select count(*) from "{table}"')[0][0]
        for table in BASE_COUNTS
    }


def _content(url: str) -> dict[str, str]:
    return {
        table: query(
            url,
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f'from "{table}" t',
        )[0][0]
        for table in BASE_COUNTS
    }


@pytest.fixture(scope="module")
def sample_url(pg_cluster) -> str:  # noqa: ANN001
    pg_cluster.drop_database("sample_scale1")
    url = pg_cluster.create_database("sample_scale1")
    seed_sample(url, scale=1)
    return url


def test_scale_one_matches_the_report(sample_url: str) -> None:
    tables = {
        r[0]
        for r in query(
            sample_url, "select tablename from pg_tables where schemaname = 'public'"
        )
    }
    assert tables == set(BASE_COUNTS)
    assert len(tables) == 26
    counts = _counts(sample_url)
    assert counts == expected_counts(1)
    assert counts["users"] == 19
    assert counts["chat_rooms"] == 6
    assert counts["chat_participants"] == 12
    assert counts["messages"] == 20
    assert counts["landlord_profiles"] == 5
    assert counts["waitlist_entries"] == 0


def test_scale_multiplies_every_count(new_database: Callable[[], str]) -> None:
    url = new_database()
    seed_sample(url, scale=3)
    assert _counts(url) == {t: 3 * c for t, c in BASE_COUNTS.items()}


def test_seeding_is_deterministic(
    sample_url: str, new_database: Callable[[], str]
) -> None:
    other = new_database()
    seed_sample(other, scale=1)
    first, second = _content(sample_url), _content(other)
    # Every value, uuids and tokens included, comes from the seeded RNGs.
    assert first == second


def test_every_hostile_text_is_present(sample_url: str) -> None:
    for text in HOSTILE_TEXTS:
        rows = query(
            sample_url,
            "select count(*) from messages where content = %s",
            (text,),
        )
        assert rows[0][0] >= 1, repr(text)


@pytest.mark.parametrize(
    ("what", "statement"),
    [
        ("'' next to NULL", "select count(*) from jobs where notes = ''"),
        ("NULL next to ''", "select count(*) from jobs where notes is null"),
        ("the text NULL", "select count(*) from jobs where notes = 'NULL'"),
        ("the text \\N", "select count(*) from jobs where notes = '\\N'"),
        ("NaN", "select count(*) from quote_line_items where quantity = 'NaN'"),
        ("NaN tax", "select count(*) from invoices where \"taxRate\" = 'NaN'"),
        (
            "30-digit numeric",
            "select count(*) from invoice_line_items where quantity > 1e29",
        ),
        (
            "infinity tz",
            "select count(*) from sessions where \"expiresAt\" = 'infinity'",
        ),
        (
            "-infinity tz",
            "select count(*) from sessions where \"expiresAt\" = '-infinity'",
        ),
        (
            "infinity",
            "select count(*) from audit_events where \"occurredAt\" = 'infinity'",
        ),
        ("JSON null", "select count(*) from jobs where metadata = 'null'::jsonb"),
        (
            "nested JSON",
            "select count(*) from jobs where metadata #> '{a,0,b,c}' is not null",
        ),
        ("empty array", "select count(*) from jobs where tags = '{}'"),
        (
            "array holding NULL and ''",
            "select count(*) from jobs where array_position(tags, null) is not null "
            "and '' = any(tags)",
        ),
        (
            "100 kB text",
            'select count(*) from jobs where length("termsAndConditions") > 100000',
        ),
        ("year 1", "select count(*) from invoices where \"dueDate\" = '0001-01-01'"),
        (
            "24:00",
            "select count(*) from contractor_availability where \"endTime\" = '24:00'",
        ),
        ("IPv6", 'select count(*) from sessions where family("ipAddress") = 6'),
        ("boolean NULL", 'select count(*) from messages where "isEdited" is null'),
    ],
)
def test_values_that_break_naive_migrations(
    sample_url: str, what: str, statement: str
) -> None:
    assert query(sample_url, statement)[0][0] >= 1, what


def test_relationships_cycles_and_self_references(sample_url: str) -> None:
    assert query(
        sample_url,
        'select count(*) from users where "defaultPaymentMethodId" is not null',
    )[0][0]
    assert query(
        sample_url, 'select count(*) from messages where "replyToId" is not null'
    )[0][0]
    assert query(
        sample_url,
        'select count(*) from service_categories where "parentCategoryId" is not null',
    )[0][0]
    # The foreign keys are enforced by PostgreSQL: seeding without an error
    # proved every reference; the sequences continue after the seeded ids.
    next_id = query(sample_url, "select nextval(pg_get_serial_sequence('users', 'id'))")
    assert next_id[0][0] == 20
