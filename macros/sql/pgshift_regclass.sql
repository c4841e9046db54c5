{# SQL: the regclass of a tested relation, or null for a subquery. #}
{% macro pgshift_regclass(relation) -%}
    {%- if relation.include is defined -%}
        to_regclass({{ pgshift_literal(relation.include(database=false)) }})
    {%- else -%}
        null::regclass
    {%- endif -%}
{%- endmacro %}
