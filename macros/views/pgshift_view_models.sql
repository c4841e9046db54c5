{# The view models of the project (materialized pgshift_view), as nodes. #}
{% macro pgshift_view_models() -%}
    {%- set nodes = [] -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and node.config.materialized == 'pgshift_view' -%}
        {%- do nodes.append(node) -%}
    {%- endfor -%}
    {{ return(nodes) }}
{%- endmacro %}
