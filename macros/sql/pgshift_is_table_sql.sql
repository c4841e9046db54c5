{# SQL: whether a relation is an ordinary or partitioned table right now. #}
{#- Decided when the statement runs, so it follows the tables that other
    build threads commit and the moves made earlier in a transaction. -#}
{% macro pgshift_is_table_sql(relation) -%}
    exists (select 1 from pg_class where oid = to_regclass(
        {{- pgshift_literal(relation) }}) and relkind in ('r', 'p'))
{%- endmacro %}
