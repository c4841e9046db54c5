{# The final tables in the build schema: (node, relation) of each. #}
{#- During a build these are the tables the run rebuilt; the other models
    are views there onto their published tables, or absent. -#}
{% macro pgshift_built_tables() -%}
    {%- set built = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set relation = adapter.get_relation(
            target.database, pgshift_build_schema(), node.alias) -%}
        {%- if relation is not none and relation.is_table -%}
            {%- do built.append((node, relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(built) }}
{%- endmacro %}
