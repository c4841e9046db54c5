{# The checks of one or more final tables, in one test: each table's row
   count and content checksum against the source's, its keys, NOT NULL key
   columns, foreign keys and enum values (macros/checks/
   pgshift_table_checks.sql). One row per check that fails, naming its
   table and the check, with how many rows (or key values) break it and one
   of them. #}
{#- The tested model's checks come from the arguments; more_tables lists
    other final models' ({model, and the same arguments}), whose checks the
    same test makes: every dbt node costs tens of milliseconds of dbt's own
    work whatever its query, so scaffold gives each test several tables. -#}
{% test pgshift_constraints(
    model, source_table=none, keys=[], not_null=[], foreign_keys=[], enums=[],
    more_tables=[]
) %}

{%- set checks = pgshift_table_checks(
    model, source_table, keys, not_null, foreign_keys, enums) -%}
{%- for other in more_tables -%}
    {%- do checks.extend(pgshift_table_checks(
        ref(other.model),
        other.get('source_table'),
        other.get('keys', []),
        other.get('not_null', []),
        other.get('foreign_keys', []),
        other.get('enums', []))) -%}
{%- endfor -%}

{{ checks | join('\nunion all\n') if checks else
    'select null::text as pgshift_table, null::text as pgshift_check, '
    ~ '0 as failing_rows, null::text as example where false' }}

{% endtest %}
