{# Constraints that prove a test's claim: read from the catalog. #}
{#- Used by the uniqueness, relationships and not_null tests
    (tests/generic/): when PostgreSQL itself enforces what a test checks on
    exactly its columns, the test needs no scan of the rows. -#}

{# A column name as the catalog spells it (YAML may give it quoted). #}
{% macro pgshift_catalog_name(column) -%}
    {%- set column = column | trim -%}
    {%- if column.startswith('"') and column.endswith('"') -%}
        {{ return(column[1:-1].replace('""', '"')) }}
    {%- endif -%}
    {{ return(column) }}
{%- endmacro %}

{# SQL: the regclass of a tested relation, or null for a subquery. #}
{% macro pgshift_regclass(relation) -%}
    {%- if relation.include is defined -%}
        to_regclass({{ pgshift_literal(relation.include(database=false)) }})
    {%- else -%}
        null::regclass
    {%- endif -%}
{%- endmacro %}

{# SQL: the attribute numbers of columns of a relation, in the given order. #}
{% macro pgshift_attnums(regclass, columns) -%}
    array[
        {%- for column in columns -%}
            (select attnum from pg_attribute where attrelid = {{ regclass }}
                and attname = {{ pgshift_literal(pgshift_catalog_name(column)) }}
                and not attisdropped)
            {{- ", " if not loop.last }}
        {%- endfor -%}
    ]::int2[]
{%- endmacro %}

{# SQL: whether a valid unique index has exactly these key columns. #}
{#- Any unique index will do (a primary key, a unique constraint, deferrable
    or not, NULLS DISTINCT or not): none lets two rows without NULLs in
    these columns share their values, which is what the tests look for,
    provided the index compares each column under the column's own
    collation (the tests' GROUP BY does; a unique index under another
    collation could hold values the column's collation calls equal). -#}
{% macro pgshift_enforced_unique(relation, columns) -%}
    {%- set table = pgshift_regclass(relation) -%}
    exists (
        select 1 from pg_index as i
        where
            i.indrelid = {{ table }}
            and i.indisunique and i.indisvalid and i.indislive
            and i.indpred is null and i.indexprs is null
            and i.indnkeyatts = {{ columns | length }}
            and (i.indkey::int2[])[0:i.indnkeyatts - 1]
            @> {{ pgshift_attnums('i.indrelid', columns) }}
            and not exists (
                select 1
                from generate_series(0, i.indnkeyatts - 1) as k
                inner join pg_attribute as a
                    on a.attrelid = i.indrelid and a.attnum = i.indkey[k]
                where a.attcollation <> i.indcollation[k]
            )
    )
{%- endmacro %}

{# SQL: whether a validated, enabled foreign key maps columns onto fields. #}
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

{# SQL: whether a column is declared NOT NULL (and, where PostgreSQL has
   not-null constraints of its own, that none of them is NOT VALID). #}
{% macro pgshift_enforced_not_null(relation, column) -%}
    exists (
        select 1 from pg_attribute as a
        where
            a.attrelid = {{ pgshift_regclass(relation) }}
            and a.attname = {{ pgshift_literal(pgshift_catalog_name(column)) }}
            and a.attnotnull and not a.attisdropped
            and not exists (
                select 1 from pg_constraint as c
                where
                    c.conrelid = a.attrelid and c.contype = 'n'
                    and not c.convalidated and a.attnum = any(c.conkey)
            )
    )
{%- endmacro %}
