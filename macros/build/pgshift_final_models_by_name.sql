{# The final models by model name. #}
{#- Kept in the graph once made, as pgshift_final_models is. Callers read
    it and never change it. -#}
{% macro pgshift_final_models_by_name() -%}
    {%- set kept = graph.get('pgshift_final_models_by_name')
        if execute else none -%}
    {%- if kept is none -%}
        {%- set kept = {} -%}
        {%- for node in pgshift_final_models() -%}
            {%- do kept.update({node.name: node}) -%}
        {%- endfor -%}
        {%- if execute -%}
            {%- do graph.update({'pgshift_final_models_by_name': kept}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(kept) }}
{%- endmacro %}
