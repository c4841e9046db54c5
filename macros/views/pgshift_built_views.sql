{# The view models this run built in the build schema: (node, relation). #}
{#- pgshift_view creates them there; the publish moves them. -#}
{% macro pgshift_built_views() -%}
    {%- set built = [] -%}
    {%- for node in pgshift_view_models() -%}
        {%- set relation = adapter.get_relation(
            target.database, pgshift_build_schema(), node.alias) -%}
        {%- if relation is not none -%}
            {%- do built.append((node, relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(built) }}
{%- endmacro %}
