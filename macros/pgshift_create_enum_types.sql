{# Create the source's enum types in the target schema, labels in order. #}
{% macro pgshift_create_enum_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for name, labels in pgshift_source_enums().items() -%}
        {%- set quoted = [] -%}
        {%- for label in labels -%}
            {%- do quoted.append("'" ~ (label | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- do statements.append(
            "do $pgshift$ begin if to_regtype('" ~ target.schema ~ "."
            ~ adapter.quote(name) ~ "') is null then create type "
            ~ adapter.quote(target.schema) ~ "." ~ adapter.quote(name)
            ~ " as enum (" ~ (quoted | join(", ")) ~ "); end if; end $pgshift$"
        ) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
