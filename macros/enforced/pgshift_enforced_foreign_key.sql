{# SQL: whether a validated, enabled foreign key maps columns onto fields. #}
{#- Used by pgshift_constraints (tests/generic/): when PostgreSQL
    itself refuses orphans in exactly these columns, the test needs no scan
    of the rows. A foreign key whose triggers are disabled enforces
    nothing. -#}
{% macro pgshift_enforced_foreign_key(relation, columns, to, fields) -%}
    {%- set child = pgshift_regclass(relation) -%}
    {%- set parent = pgshift_regclass(to) -%}
    exists (
        select 1 from pg_constraint as c
        where
            c.contype = 'f' and c.convalidated
            and c.conrelid = {{ child }}
            and c.confrelid = {{ parent }}
            and c.conkey = {{ pgshift_attnums('c.conrelid', columns) }}
            and c.confkey = {{ pgshift_attnums('c.confrelid', fields) }}
            and not exists (
                select 1 from pg_trigger as t
                where t.tgconstraint = c.oid and t.tgenabled = 'D'
            )
    )
{%- endmacro %}
