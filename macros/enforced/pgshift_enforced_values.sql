{# SQL: whether a column's enum type holds no label outside these values. #}
{#- Used by pgshift_constraints (tests/generic/): a column of an enum type
    can hold its type's labels only, so when none of them is outside the
    accepted values, no row needs reading. A column of another type (a
    domain, text) is read. values are SQL literals. -#}
{% macro pgshift_enforced_values(relation, column, values) -%}
    exists (
        select 1
        from pg_attribute as a
        inner join pg_type as t on a.atttypid = t.oid
        where
            a.attrelid = {{ pgshift_regclass(relation) }}
            and a.attname = {{ pgshift_literal(column) }}
            and t.typtype = 'e'
            and not exists (
                select 1 from pg_enum as e
                where
                    e.enumtypid = t.oid
                    and e.enumlabel not in ({{ values | join(', ') }})
            )
    )
{%- endmacro %}
