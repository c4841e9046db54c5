{# The schema each build fills before anything is published. #}
{#- Final models are built, keyed, indexed and tested here; only when the
    whole run succeeded does pgshift_publish move them into the final schema,
    in one transaction. Between runs it holds a view onto every published
    table, so refs, tests and docs read what the application reads. -#}
{% macro pgshift_build_schema() -%}
    {{ return(var('build_schema', pgshift_final_schema() ~ '_pgshift_build')) }}
{%- endmacro %}
