{# Create the source's composite types in the target schema, after domains. #}
{#- An attribute may be of an enum type, a domain or another composite type;
    pgshift_source_composites(), written by scaffold, lists them in an order
    they can be created in. One statement per type, which leaves a type of
    that name alone. -#}
{% macro pgshift_create_composite_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for composite in pgshift_source_composites() -%}
        {%- set type = pgshift_ident(target.schema, composite.name) -%}
        {%- set create -%}
            create type {{ type }} as (
            {%- for attribute in composite.attributes %}
                {{ pgshift_ident(attribute[0]) }} {{ attribute[1] }}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
            )
        {%- endset -%}
        {%- do statements.append(pgshift_create_type(type, create)) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
