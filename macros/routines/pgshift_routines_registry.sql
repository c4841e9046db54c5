{# The state table of the routines and triggers pgshift created. #}
{#- Argument: the table, quoted. One statement, without its semicolon:
    the table, keyed by the final schema each entry was created in
    (pgshift_key_registries gives an older one that key). -#}
{% macro pgshift_routines_registry(registry) -%}
create table if not exists {{ registry }} (
    final_schema text not null,
    kind text not null,
    name text not null,
    on_table text not null default '',
    built_at timestamptz not null default now(),
    primary key (final_schema, kind, name, on_table)
)
{%- endmacro %}
