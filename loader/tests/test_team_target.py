"""A team's own objects on the target outlive a re-migration.

The team target holds, on and around the migrated tables, what a team adds
once the application runs there: a view, a view on that view (with a check
option), a materialized view with an index, table and column grants to a
reporting role, a table of its own with a foreign key to a migrated table,
an index, a trigger, a policy with row-level security, a comment, a
publication, and an owner of its own. A second ``migrate`` and a ``dbt build -s users`` replace the
final tables; every one of those objects is there afterwards as it was, and
the report lists what was carried over. What cannot be recreated stops the
publish, unless the run is told to leave it out.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgshift.settings import PROJECT_DIR
from pgshift.verify.dbt_artifacts import dbt_test_results

from migration import MigratedSample, query, run_cli

TEAM_OBJECTS = """
do $$ begin
    if not exists (select 1 from pg_roles where rolname = 'reporting') then
        create role reporting;
    end if;
end $$;
create view public.team_active_users as
    select id, email from public.users where id > 1;
create view public.team_active_users2 as
    select id from public.team_active_users with local check option;
create materialized view public.team_job_counts as
    select u.id, count(j.id) as jobs from public.users as u
    left join public.jobs as j on j.landlord_id = u.id group by u.id;
create index team_job_counts_idx on public.team_job_counts (id);
grant select on public.users to reporting;
grant select (title) on public.jobs to reporting;
grant select on public.team_active_users to reporting;
create table public.team_notes (
    id int primary key, user_id int references public.users (id), note text
);
insert into public.team_notes values (1, 2, 'hello');
create index team_users_email_lower on public.users (lower(email));
create function public.team_touch() returns trigger language plpgsql
    as $f$ begin return new; end $f$;
create trigger team_touch_users before update on public.users
    for each row execute function public.team_touch();
alter table public.users disable trigger team_touch_users;
comment on column public.users.email is 'team email comment';
alter table public.users enable row level security;
create policy team_all on public.users using (true);
create publication team_pub for table public.users;
alter materialized view public.team_job_counts owner to reporting;
"""

FINGERPRINT = """
select 'relation', c.relname::text, c.relkind::text,
       coalesce(array_to_string(c.relacl, ','), ''),
       coalesce(obj_description(c.oid, 'pg_class'), ''),
       c.relrowsecurity::text || ' ' || pg_get_userbyid(c.relowner)
from pg_class as c
where c.relnamespace = 'public'::regnamespace
  and c.relname in ('users', 'jobs', 'team_active_users', 'team_active_users2',
                    'team_job_counts', 'team_notes')
union all
select 'index', indexname::text, indexdef, '', '', ''
from pg_indexes where schemaname = 'public' and indexname like 'team%%'
union all
select 'trigger', tgname::text, pg_get_triggerdef(oid), tgenabled::text, '', ''
from pg_trigger where tgname like 'team%%'
union all
select 'constraint', conname::text, pg_get_constraintdef(oid),
       conrelid::regclass::text, '', ''
from pg_constraint where conrelid = 'public.team_notes'::regclass
union all
select 'policy', policyname::text, qual, array_to_string(roles, ','), '', ''
from pg_policies where tablename = 'users'
union all
select 'publication', pubname::text, tablename::text, '', '', ''
from pg_publication_tables
union all
select 'column', attrelid::regclass::text || '.' || attname,
       coalesce(array_to_string(attacl, ','), ''),
       coalesce(col_description(attrelid, attnum), ''), '', ''
from pg_attribute
where attrelid in ('public.users'::regclass, 'public.jobs'::regclass)
  and (attacl is not null or col_description(attrelid, attnum) is not null)
union all
select 'view', c.relname::text, pg_get_viewdef(c.oid),
       coalesce(array_to_string(c.reloptions, ','), ''), '', ''
from pg_class as c
where c.relnamespace = 'public'::regnamespace and c.relkind in ('v', 'm')
union all
select 'rows', 'team_job_counts', count(*)::text, '', '', ''
from public.team_job_counts
union all
select 'rows', 'team_notes', count(*)::text, '', '', '' from public.team_notes
order by 1, 2
"""


def _team_state(url: str) -> list[tuple]:
    return query(url, FINGERPRINT)


@pytest.fixture
def team_target(sample_copy: Callable[[], MigratedSample]) -> MigratedSample:
    """A copy of the migrated sample, with the team's objects on it."""
    copy = sample_copy()
    query(copy.target_url, TEAM_OBJECTS)
    return copy


def test_remigration_and_a_partial_build_keep_the_teams_objects(
    team_target: MigratedSample,
) -> None:
    target = team_target.target_url
    before = _team_state(target)
    assert len(before) > 20

    again = run_cli(["migrate"], team_target.source_url, target, team_target.state)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert _team_state(target) == before
    report = (PROJECT_DIR / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    carried = report.split("## Carried over from the target")[1].split("## ")[0]
    for line in [
        "view public.team_active_users2: recreated",
        "materialized view public.team_job_counts: recreated",
        "constraint public.team_notes.team_notes_user_id_fkey: recreated",
        "index public.users.team_users_email_lower: recreated",
        "trigger public.users.team_touch_users: recreated",
        "policy public.users.team_all: recreated",
        "grant public.jobs to reporting: recreated",
        "publication public.users in team_pub: recreated",
        "comment public.users.email: recreated",
        "owner public.team_job_counts owned by reporting: recreated",
    ]:
        assert f"- {line}" in carried, line
    # The team's index and comment are kept, not schema differences.
    assert "kept from the target: users: index ('team_users_email_lower'" in report

    partial = run_cli(["dbt", "build", "-s", "users"], "", target, team_target.state)
    assert partial.returncode == 0, partial.stdout[-3000:]
    assert _team_state(target) == before


def test_what_cannot_be_recreated_stops_the_publish_unless_left_out(
    team_target: MigratedSample,
) -> None:
    target = team_target.target_url
    query(
        target,
        "alter table public.users add column team_flag boolean default false; "
        "create view public.team_flagged as select id, team_flag from public.users",
    )
    before = _team_state(target)
    refused = run_cli(["migrate"], team_target.source_url, target, team_target.state)
    assert refused.returncode == 2, refused.stdout[-3000:]
    assert "nothing published" in refused.stderr
    assert "public.users.team_flag" in refused.stderr
    assert "--drop-dependents" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _team_state(target) == before
    assert query(target, "select count(*) from public.team_flagged") == [(19,)]

    dropped = run_cli(
        ["migrate", "--drop-dependents"],
        team_target.source_url,
        target,
        team_target.state,
    )
    assert dropped.returncode == 0, dropped.stdout[-3000:] + dropped.stderr[-3000:]
    assert query(target, "select to_regclass('public.team_flagged')") == [(None,)]
    report = (PROJECT_DIR / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "- view public.team_flagged: dropped (column users.team_flag" in report
    assert "- column public.users.team_flag: dropped" in report
    # migrate's own summary says so too.
    assert "on the target: view public.team_flagged: dropped" in dropped.stdout
    # Everything else the team had is still there.
    assert [r for r in _team_state(target) if r[1] != "team_flagged"] == [
        r for r in before if r[1] != "team_flagged"
    ]


def test_a_column_the_team_added_does_not_fail_the_checksum_test(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    copy = sample_copy()
    query(copy.target_url, "alter table public.users add column nickname text")
    tested = run_cli(["dbt", "test", "-s", "users"], "", copy.target_url, copy.state)
    assert tested.returncode == 0, tested.stdout[-3000:]
    # users' checks are made by the test of the six tables from reviews on.
    assert "pgshift_constraints_reviews_and_5_more" in tested.stdout
    # The views dbt test read the published tables through are gone again.
    assert query(copy.target_url, "select to_regnamespace('public_pgshift_build')") == [
        (None,)
    ]
    # A changed value of the source's columns still fails it.
    query(copy.target_url, "update public.users set email = 'x' || email where id = 2")
    changed = run_cli(["dbt", "test", "-s", "users"], "", copy.target_url, copy.state)
    assert changed.returncode == 1
    assert "Failure in test pgshift_constraints_reviews_and_5_more" in changed.stdout
    assert (
        "users: same rows as the source table users (count, checksum)" in changed.stdout
    )


def test_a_build_of_some_tables_checks_those_tables_only(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    # audit_events and bids are checked by one test; a published bids the
    # team changed is no business of a build of audit_events alone, as when
    # each table had a test of its own.
    copy = sample_copy()
    query(copy.target_url, "update public.bids set amount = amount + 1 where id = 1")
    built = run_cli(
        ["dbt", "build", "-s", "audit_events"], "", copy.target_url, copy.state
    )
    assert built.returncode == 0, built.stdout[-3000:]
    assert "pgshift_constraints_audit_events_and_9_more" in built.stdout
    # verify's "dbt tests" column counts the checks this build made: those
    # of audit_events, none of the nine tables tested beside it.
    counted = dbt_test_results(copy.settings)
    assert counted["audit_events"][0] > 0, counted
    assert "bids" not in counted, counted
    # dbt test checks every table of the test, as published.
    tested = run_cli(
        ["dbt", "test", "-s", "audit_events"], "", copy.target_url, copy.state
    )
    assert tested.returncode == 1, tested.stdout[-3000:]
    assert "bids: same rows as the source table bids (count, checksum)" in (
        tested.stdout
    )
