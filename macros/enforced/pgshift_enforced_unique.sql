{# SQL: whether a valid unique index has exactly these key columns. #}
{#- Used by pgshift_constraints (tests/generic/): when PostgreSQL itself
    refuses duplicates in exactly these columns, the test needs no scan of
    the rows. Any unique index will do (a primary key, a unique constraint,
    deferrable or not, NULLS DISTINCT or not): none lets two rows without
    NULLs in these columns share their values, which is what the tests
    look for, provided the index compares each column under the column's
    own collation (the tests' GROUP BY does; a unique index under another
    collation could hold values the column's collation calls equal).
    PostgreSQL's own @> is named: intarray, in the final schema, makes a
    bare one ambiguous on smallint arrays. -#}
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
            operator(pg_catalog.@>) {{ pgshift_attnums('i.indrelid', columns) }}
            and not exists (
                select 1
                from generate_series(0, i.indnkeyatts - 1) as k
                inner join pg_attribute as a
                    on a.attrelid = i.indrelid and a.attnum = i.indkey[k]
                where a.attcollation <> i.indcollation[k]
            )
    )
{%- endmacro %}
