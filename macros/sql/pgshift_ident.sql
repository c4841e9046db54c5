{# SQL: an identifier, or a qualified name from several parts, quoted. #}
{#- Each part is double-quoted with its own double quotes doubled, as
    psycopg2's sql.Identifier does on the Python side (dbt's adapter.quote
    leaves a double quote inside a name as it is):
    pgshift_ident(schema, table) gives "schema"."table". -#}
{% macro pgshift_ident(name) -%}
    {%- set parts = [] -%}
    {%- for part in [name] + (varargs | list) -%}
        {%- do parts.append('"' ~ (part | string).replace('"', '""') ~ '"') -%}
    {%- endfor -%}
    {{ parts | join('.') }}
{%- endmacro %}
