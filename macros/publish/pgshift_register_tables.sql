{# Record the final tables pgshift built, so later builds may replace them. #}
{#- Which of them exist is decided when the statement runs: it follows the
    publish in the same transaction. -#}
{% macro pgshift_register_tables() %}
    {%- if execute -%}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('built_table')) -%}
    {%- set names = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- do names.append(pgshift_literal(node.alias)) -%}
    {%- endfor -%}
    {%- set sql -%}
    create table if not exists {{ registry }} (
        table_name text primary key,
        built_at timestamptz not null default now()
    );
    insert into {{ registry }} (table_name)
    select name from unnest(array[{{ names | join(', ') }}]::text[]) as name
    where
        to_regclass(
            format('%I.%I', {{ pgshift_literal(pgshift_final_schema()) }}, name)
        ) is not null
    on conflict (table_name) do update set built_at = now()
    {%- endset -%}
    {{ return(sql) }}
    {%- endif -%}
{% endmacro %}
