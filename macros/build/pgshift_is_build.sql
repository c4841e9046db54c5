{# Whether this dbt command builds models (and so may publish them). #}
{% macro pgshift_is_build() -%}
    {{ return(invocation_args_dict.get('which') in ['build', 'run']) }}
{%- endmacro %}
