{# SQL: the attribute numbers of columns of a relation, in the given order. #}
{#- A column the relation lacks gives NULL, which matches no constraint. -#}
{% macro pgshift_attnums(regclass, columns) -%}
    array[
        {%- for column in columns -%}
            (select attnum from pg_attribute where attrelid = {{ regclass }}
                and attname = {{ pgshift_literal(pgshift_catalog_name(column)) }}
                and not attisdropped)
            {{- ", " if not loop.last }}
        {%- endfor -%}
    ]::int2[]
{%- endmacro %}
