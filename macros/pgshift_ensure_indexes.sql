{# Create the source's secondary indexes on the final tables, renamed. #}
{#- Indexes are built after the data is in (faster than maintaining them
    during the insert), from meta.pgshift.indexes: name, unique, and the
    definition after USING with the columns renamed. -#}
{% macro pgshift_ensure_indexes() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node, relation in pgshift_built_tables() -%}
        {%- for index in node.meta.pgshift.get('indexes', []) -%}
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
