{# The schema the application reads: var final_schema, else the profile's. #}
{#- `python loader/run.py` passes final_schema from its settings. -#}
{% macro pgshift_final_schema() -%}
    {{ return(var('final_schema', target.schema)) }}
{%- endmacro %}
