{# The keys, checks, indexes and foreign keys the final models declare, as
   "table.name": what pgshift builds on its tables itself. #}
{% macro pgshift_declared_names() %}
    {%- set names = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set meta = node.meta.pgshift -%}
        {%- for item in meta.get('keys', []) + meta.get('indexes', [])
                + meta.get('foreign_keys', []) -%}
            {%- do names.append(node.alias ~ '.' ~ item.name) -%}
        {%- endfor -%}
        {%- for constraint in node.constraints if constraint.name -%}
            {%- do names.append(node.alias ~ '.'
                ~ pgshift_catalog_name(constraint.name)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}
