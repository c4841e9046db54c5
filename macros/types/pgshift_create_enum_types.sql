{# Create the source's enum types in the target schema, labels in order. #}
{#- One statement per type, which leaves a type of that name alone. The
    types are pgshift_source_enums(), written by scaffold. -#}
{% macro pgshift_create_enum_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for name, labels in pgshift_source_enums().items() -%}
        {%- set type = pgshift_ident(target.schema, name) -%}
        {%- set quoted = [] -%}
        {%- for label in labels -%}
            {%- do quoted.append(pgshift_literal(label)) -%}
        {%- endfor -%}
        {%- do statements.append(pgshift_create_type(type,
            "create type " ~ type ~ " as enum (" ~ (quoted | join(", ")) ~ ")"
        )) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
