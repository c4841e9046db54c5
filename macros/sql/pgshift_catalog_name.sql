{# A column name as the catalog spells it (YAML may give it quoted). #}
{#- `"userId"` is userId, `"a""b"` is a"b; a name that is not wrapped in
    double quotes (a lone `"` included) is kept as it is. -#}
{% macro pgshift_catalog_name(column) -%}
    {%- set column = column | trim -%}
    {%- if column | length > 1
            and column.startswith('"') and column.endswith('"') -%}
        {{ return(column[1:-1].replace('""', '"')) }}
    {%- endif -%}
    {{ return(column) }}
{%- endmacro %}
