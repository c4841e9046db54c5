{# on-run-end: pgshift_ensure_serials for every table the run built. #}
{#- The post-hook (pgshift_finish_table) already gives each serial column
    its sequence in the model's transaction; run again here, it finds the
    sequences owned and only sets each past max(column) once more. -#}
{% macro pgshift_ensure_sequences() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node, relation in pgshift_built_tables() -%}
        {%- do statements.extend(pgshift_ensure_serials(relation, node)) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
