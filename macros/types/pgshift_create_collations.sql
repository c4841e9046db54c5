{# Create the source's collations in the target schema, under their names. #}
{#- From pgshift_source_collations(), written by scaffold (provider,
    locale, deterministic, as pg_dump writes them). A collation of that name
    already there is left alone. Before the types and the tables: a
    column, an index or a domain may use one (NetBox's `natural_sort`). -#}
{% macro pgshift_create_collations() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for name, options in pgshift_source_collations().items() -%}
        {%- do statements.append("create collation if not exists "
            ~ pgshift_ident(target.schema, name) ~ " (" ~ options ~ ")") -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
