{# A relation's columns in table order: name and format_type() type of each. #}
{#- What pgshift_table_checksum is given. The types are spelt as
    format_type() spells them, as the loader reads them from the catalog
    for its checksum (a domain by its name, timestamptz with its
    precision), so that one rule decides both figures; dbt's
    adapter.get_columns_in_relation reads information_schema, which names
    a domain by its base type. No columns for a relation that does not
    exist. -#}
{% macro pgshift_checksum_columns(relation) %}
    {%- set query -%}
        select a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_attribute as a
        where
            a.attrelid = {{ pgshift_regclass(relation) }}
            and a.attnum > 0
            and not a.attisdropped
        order by a.attnum
    {%- endset -%}
    {%- set columns = [] -%}
    {%- for row in run_query(query) -%}
        {%- do columns.append({'name': row[0], 'dtype': row[1]}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}
