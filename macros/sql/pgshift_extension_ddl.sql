{# SQL: create an extension in its source schema, unless it is there. #}
{#- The schema is created first unless it is public; cascade also creates
    the extensions it requires. -#}
{% macro pgshift_extension_ddl(name, schema, cascade=false) -%}
    {%- if schema != 'public' -%}
        create schema if not exists {{ pgshift_ident(schema) }};
    {% endif -%}
    create extension if not exists {{ pgshift_ident(name) }}
        schema {{ pgshift_ident(schema) }}
    {%- if cascade %} cascade{% endif -%}
{%- endmacro %}
