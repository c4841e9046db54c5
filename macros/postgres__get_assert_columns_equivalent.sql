{# An enforced contract's check of a model's columns, in one round trip. #}
{#- dbt's assert_columns_equivalent asks the server twice for column
    types: once for the model's select, once for a select of NULLs cast to
    the declared types (get_empty_schema_sql), each an empty query of its
    own with its result turned into a table. Here both selects are one
    empty query, side by side (a cross join of the two subqueries): its
    first columns are the model's, the last as many as the contract
    declares are the contract's, each named and typed by the server as
    dbt's two queries would give them. The comparison is dbt's: the same
    number of columns, each model column declared under its name, with the
    same type; otherwise dbt's contract error, listing both. -#}
{% macro postgres__get_assert_columns_equivalent(sql) -%}
    {%- set declared = model['columns'] -%}
    {%- if not declared -%}
        {{ exceptions.raise_contract_error([], []) }}
    {%- endif -%}
    {%- set both -%}
        select * from (
            {{ sql }}
        ) as pgshift_model
        cross join (
            {{ get_empty_schema_sql(declared) }}
        ) as pgshift_contract
    {%- endset -%}
    {%- set columns = get_column_schema_from_query(
        both, config.get('sql_header', none)) -%}
    {%- set split = (columns | length) - (declared | length) -%}
    {%- set sql_columns = format_columns(columns[:split]) -%}
    {%- set yaml_columns = format_columns(columns[split:]) -%}
    {%- if sql_columns | length != yaml_columns | length -%}
        {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
    {%- endif -%}
    {%- for sql_col in sql_columns -%}
        {%- set yaml_col = [] -%}
        {%- for this_col in yaml_columns -%}
            {%- if this_col['name'] == sql_col['name'] and not yaml_col -%}
                {%- do yaml_col.append(this_col) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not yaml_col
                or sql_col['formatted'] != yaml_col[0]['formatted'] -%}
            {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
