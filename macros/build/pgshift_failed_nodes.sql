{# on-run-end: the names of this run's nodes that failed or were skipped. #}
{% macro pgshift_failed_nodes() %}
    {%- set failed = [] -%}
    {%- for result in results or []
            if result.status in ['error', 'fail', 'skipped', 'runtime error'] -%}
        {%- do failed.append(result.node.name) -%}
    {%- endfor -%}
    {{ return(failed) }}
{% endmacro %}
