{# The statements that move a published table's statistics objects with it. #}
{#- ALTER TABLE ... SET SCHEMA leaves them in the build schema. -#}
{% macro pgshift_publish_statistics(node, built, final_schema) %}
    {%- set statements = [] -%}
    {%- for statistics in node.meta.pgshift.get('statistics', []) -%}
        {%- do statements.append("alter statistics "
            ~ pgshift_ident(built.schema, statistics.name)
            ~ " set schema " ~ pgshift_ident(final_schema)) -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
{% endmacro %}
