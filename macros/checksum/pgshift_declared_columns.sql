{# The columns of a final table that its model declares, for its checksum. #}
{#- The source's columns, in the source's order, each with its type as
    pgshift_checksum_columns reads it from the table, as verify's checksum
    takes them: a column the team added to the table is not the source's
    and does not enter the checksum; a declared column the table lacks is
    given as text, and the checksum query then fails on it. For a relation
    that is no final model, its columns as they are. -#}
{% macro pgshift_declared_columns(relation) %}
    {%- set found = pgshift_checksum_columns(relation) -%}
    {%- set by_name = {} -%}
    {%- for column in found -%}
        {%- do by_name.update({column.name: column}) -%}
    {%- endfor -%}
    {#- The final models by table name, gathered once a run (every test
        asks): a loop over every model per test grew with the square of
        the tables. -#}
    {%- set by_alias = graph.get('pgshift_final_models_by_alias')
        if execute else none -%}
    {%- if by_alias is none -%}
        {%- set by_alias = {} -%}
        {%- for node in pgshift_final_models() -%}
            {%- do by_alias.setdefault(node.alias, []).append(node) -%}
        {%- endfor -%}
        {%- if execute -%}
            {%- do graph.update({'pgshift_final_models_by_alias': by_alias}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for node in by_alias.get(relation.identifier, []) -%}
        {%- for declared in node.columns.values() -%}
            {%- set name = pgshift_catalog_name(declared.name) -%}
            {%- do columns.append(
                by_name.get(name, {'name': name, 'dtype': 'text'})) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns or found) }}
{% endmacro %}
