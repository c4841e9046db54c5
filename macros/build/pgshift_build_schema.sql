{# The schema each build fills before anything is published. #}
{#- Final models are built, keyed, indexed and tested here; only when the
    whole run succeeded does pgshift_publish move them into the final schema,
    in one transaction. During a dbt command it holds a view onto every
    published table the command does not rebuild, so refs and tests read
    what the application reads; between commands nothing of it is left on
    the application's tables (pgshift_drop_stand_ins). -#}
{% macro pgshift_build_schema() -%}
    {{ return(var('build_schema', pgshift_final_schema() ~ '_pgshift_build')) }}
{%- endmacro %}
