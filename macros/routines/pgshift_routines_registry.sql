{# The state table of the routines and triggers pgshift created. #}
{#- Argument: the table, quoted. One statement, without its semicolon. -#}
{% macro pgshift_routines_registry(registry) -%}
create table if not exists {{ registry }} (
    kind text not null,
    name text not null,
    on_table text not null default '',
    built_at timestamptz not null default now(),
    primary key (kind, name, on_table)
)
{%- endmacro %}
