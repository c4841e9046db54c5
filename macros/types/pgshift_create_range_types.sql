{# Create the source's range types in the target schema, after the enums. #}
{#- Each with its subtype (an enum's renamed), multirange type name,
    operator class, collation and subtype difference function, as
    pgshift_source_ranges(), written by scaffold, gives them. -#}
{% macro pgshift_create_range_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for range in pgshift_source_ranges() -%}
        {%- set type = pgshift_ident(target.schema, range.name) -%}
        {%- set options = ["subtype = " ~ range.subtype] -%}
        {%- if range.get('multirange') -%}
            {%- do options.append("multirange_type_name = "
                ~ pgshift_ident(target.schema, range.multirange)) -%}
        {%- endif -%}
        {%- if range.get('opclass') -%}
            {%- do options.append("subtype_opclass = " ~ range.opclass) -%}
        {%- endif -%}
        {%- if range.get('collation') -%}
            {%- do options.append("collation = " ~ range.collation) -%}
        {%- endif -%}
        {%- if range.get('subtype_diff') -%}
            {%- do options.append("subtype_diff = " ~ range.subtype_diff) -%}
        {%- endif -%}
        {%- do statements.append(pgshift_create_type(type, "create type " ~ type
            ~ " as range (" ~ (options | join(", ")) ~ ")")) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
