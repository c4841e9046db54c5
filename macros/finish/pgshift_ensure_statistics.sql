{# The statements that create a final table's extended statistics objects. #}
{#- From meta.pgshift.statistics: each in the table's schema, before its
    ANALYZE fills them, with its statistics target; the publish moves them
    into the final schema with the table (pgshift_publish_statistics). -#}
{% macro pgshift_ensure_statistics(relation, node) %}
    {%- set statements = [] -%}
    {%- for statistics in node.meta.pgshift.get('statistics', []) -%}
        {%- set name = pgshift_ident(relation.schema, statistics.name) -%}
        {%- do statements.append("create statistics " ~ name ~ " "
            ~ statistics.definition ~ " from " ~ relation) -%}
        {%- if statistics.get('target') is not none -%}
            {%- do statements.append("alter statistics " ~ name
                ~ " set statistics " ~ statistics.target) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
