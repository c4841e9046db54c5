{# The final models: those the scaffold marked with meta.pgshift. #}
{% macro pgshift_final_models() -%}
    {%- set nodes = [] -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.meta.get('pgshift') -%}
        {%- do nodes.append(node) -%}
    {%- endfor -%}
    {{ return(nodes) }}
{%- endmacro %}
