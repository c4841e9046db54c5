{# Create the source's secondary indexes on the final tables, renamed. #}
{#- Indexes are built after the data is in (faster than maintaining them
    during the insert), from meta.pgshift.indexes: name, unique, and the
    definition after USING with the columns renamed. -#}
{% macro pgshift_ensure_indexes() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set relation = adapter.get_relation(
            node.database, node.schema, node.alias) -%}
        {%- for index in node.meta.pgshift.get('indexes', [])
                if relation is not none and relation.is_table -%}
            {%- do statements.append(
                "create " ~ ("unique " if index.unique else "")
                ~ "index if not exists " ~ adapter.quote(index.name) ~ " on "
                ~ relation ~ " using " ~ index.using
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
