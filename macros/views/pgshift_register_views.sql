{# Record the views this run published as pgshift's (pgshift.built_tables). #}
{#- A later publish then replaces them, and pgshift_keep_dependents does
    not keep them as the target's own objects. Runs after
    pgshift_register_tables, which creates the registry. -#}
{% macro pgshift_register_views(final_schema) %}
    {%- set names = [] -%}
    {%- for node, built in pgshift_built_views() -%}
        {%- do names.append(pgshift_literal(node.alias)) -%}
    {%- endfor -%}
    {%- if not names -%}
        {{ return('') }}
    {%- endif -%}
    {%- set sql -%}
    insert into {{ pgshift_ident(var('state_schema'), var('built_table')) }}
        (final_schema, table_name)
    select {{ pgshift_literal(final_schema) }}, name
    from unnest(array[{{ names | join(', ') }}]::text[]) as name
    where
        to_regclass(
            format('%I.%I', {{ pgshift_literal(final_schema) }}, name)
        ) is not null
    on conflict (final_schema, table_name) do update set built_at = now()
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
