{# SQL: whether a column is declared NOT NULL, and validly so. #}
{#- Used by pgshift_constraints (tests/generic/): a column that PostgreSQL
    keeps free of NULLs needs no scan of the rows. Where PostgreSQL has
    not-null constraints of its own, none of them may be NOT VALID. -#}
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
