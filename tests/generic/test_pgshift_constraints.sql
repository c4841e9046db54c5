{# The checks of one or more final tables, in one test: each table's row
   count and content checksum against the source's, its keys, NOT NULL key
   columns, foreign keys and enum values (macros/checks/
   pgshift_table_checks.sql). One row per check that fails, naming its
   table and the check, with how many rows (or key values) break it and one
   of them. #}
{#- The tested model's checks come from the arguments; more_tables lists
    other final models' ({model, and the same arguments}), whose checks the
    same test makes: every dbt node costs tens of milliseconds of dbt's own
    work whatever its query, so scaffold gives each test several tables.
    A `dbt build` or `dbt run` checks the tables it builds (dbt selects the
    test when it builds any of them): `dbt build -s bids` checks bids, as
    when each table had a test of its own, not the published tables tested
    beside it. `dbt test` checks every table of the test as it is. -#}
{% test pgshift_constraints(
    model, source_table=none, keys=[], not_null=[], foreign_keys=[], enums=[],
    more_tables=[]
) %}

{%- set building = execute and pgshift_is_build() -%}
{%- set checks = [] -%}
{%- if not building
        or 'model.' ~ project_name ~ '.' ~ model.identifier in selected_resources -%}
    {%- do checks.extend(pgshift_table_checks(
        model, source_table, keys, not_null, foreign_keys, enums)) -%}
{%- endif -%}
{%- for other in more_tables -%}
    {#- ref() always: dbt reads the test's dependencies from it. -#}
    {%- set relation = ref(other.model) -%}
    {%- if not building
            or 'model.' ~ project_name ~ '.' ~ other.model in selected_resources -%}
        {%- do checks.extend(pgshift_table_checks(
            relation,
            other.get('source_table'),
            other.get('keys', []),
            other.get('not_null', []),
            other.get('foreign_keys', []),
            other.get('enums', []))) -%}
    {%- endif -%}
{%- endfor -%}

{#- Which checks a constraint enforces, asked of the catalog in one query as
    the test is compiled (right after its tables were built): those leave
    the test's query. Left in it behind a constant-false condition, each
    kept a scan and its parallel workers in the plan, and a query of many
    such branches took minutes where its branches alone took seconds. -#}
{%- set asked = [] -%}
{%- for check in checks if check.enforced is not none -%}
    {%- do asked.append(check) -%}
{%- endfor -%}
{%- set holds = [] -%}
{%- if execute and asked -%}
    {%- set question -%}
    select
        {%- for check in asked %}
        ({{ check.enforced }}) as enforced_{{ loop.index }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    {%- endset -%}
    {%- set answers = run_query(question).rows[0] -%}
    {%- for check in asked -%}
        {%- if answers[loop.index0] -%}
            {%- do holds.append(check.sql) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set selects = [] -%}
{%- for check in checks if check.sql not in holds -%}
    {%- do selects.append(check.sql) -%}
{%- endfor -%}

{{ selects | join('\nunion all\n') if selects else
    'select null::text as pgshift_table, null::text as pgshift_check, '
    ~ '0 as failing_rows, null::text as example where false' }}

{% endtest %}
