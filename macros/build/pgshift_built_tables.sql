{# The final tables in the build schema: (node, relation) of each. #}
{#- During a build these are the tables the run rebuilt; the other models
    are views there onto their published tables, or absent. The tables are
    read from the catalog in one query (pg_tables, as dbt's relation cache
    reads them), not looked up one by one: each lookup in dbt's cache scans
    every relation it holds. -#}
{% macro pgshift_built_tables() -%}
    {%- set schema = pgshift_build_schema() -%}
    {%- set query -%}
        select tablename from pg_tables
        where schemaname = {{ pgshift_literal(schema) }}
    {%- endset -%}
    {%- set tables = run_query(query).columns[0].values() -%}
    {%- set built = [] -%}
    {%- for node in pgshift_final_models() if node.alias in tables -%}
        {%- do built.append((node, api.Relation.create(
            database=target.database, schema=schema,
            identifier=node.alias, type='table'))) -%}
    {%- endfor -%}
    {{ return(built) }}
{%- endmacro %}
