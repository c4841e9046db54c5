{# The final models by model name. #}
{% macro pgshift_final_models_by_name() -%}
    {%- set models = {} -%}
    {%- for node in pgshift_final_models() -%}
        {%- do models.update({node.name: node}) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}
