{# Record the final tables pgshift built, so later builds may replace them. #}
{% macro pgshift_register_tables() %}
    {%- if execute -%}
    {%- set registry = adapter.quote(var('raw_schema', 'raw')) ~ '._pgshift_built' -%}
    {%- set names = [] -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.meta.get('pgshift') -%}
        {%- if adapter.get_relation(node.database, node.schema, node.alias)
                is not none -%}
            {%- do names.append("('" ~ node.alias ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    create schema if not exists {{ adapter.quote(var('raw_schema', 'raw')) }};
    create table if not exists {{ registry }} (
        table_name text primary key,
        built_at timestamptz not null default now()
    );
    {%- if names %}
    insert into {{ registry }} (table_name)
    values {{ names | join(', ') }}
    on conflict (table_name) do update set built_at = now()
    {%- endif -%}
    {%- endif -%}
{% endmacro %}
