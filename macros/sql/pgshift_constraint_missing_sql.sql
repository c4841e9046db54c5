{# SQL: whether a table has no constraint of a name (and kind, if given). #}
{#- Decided when the statement runs. -#}
{% macro pgshift_constraint_missing_sql(relation, name, kind=none) -%}
    not exists (select 1 from pg_constraint where conrelid =
        {{- ' ' ~ pgshift_literal(relation) }}::regclass and conname =
        {{- ' ' ~ pgshift_literal(name) }}
        {%- if kind %} and contype = {{ pgshift_literal(kind) }}{% endif %})
{%- endmacro %}
