{# The final models of the project (pgshift_is_final_model), as graph nodes. #}
{% macro pgshift_final_models() -%}
    {%- set nodes = [] -%}
    {%- for node in graph.nodes.values() if pgshift_is_final_model(node) -%}
        {%- do nodes.append(node) -%}
    {%- endfor -%}
    {{ return(nodes) }}
{%- endmacro %}
