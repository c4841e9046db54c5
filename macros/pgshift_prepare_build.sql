{# Make the build schema ready: rebuilt models start empty, the rest are views. #}
{#- A `dbt build` or `dbt run` rebuilds its selected final models in the
    build schema; whatever an earlier run left there under their names (a
    view, or the tables of a build that failed or was killed) is dropped.
    Every other final model that is published gets a view onto its final
    table, so that tests and refs of this run read the published data. -#}
{% macro pgshift_prepare_build() %}
    {%- if execute -%}
    {%- set building = pgshift_is_build() -%}
    {%- set build_schema = pgshift_build_schema() -%}
    {%- do adapter.create_schema(api.Relation.create(
        database=target.database, schema=build_schema)) -%}
    {%- for node in pgshift_final_models() -%}
        {%- set rebuilt = building and node.unique_id in selected_resources -%}
        {%- for suffix in ['', '__dbt_tmp', '__dbt_backup'] -%}
            {%- set leftover = adapter.get_relation(
                target.database, build_schema, node.alias ~ suffix) -%}
            {%- if leftover is not none and (rebuilt or suffix or leftover.is_table) -%}
                {%- do adapter.drop_relation(leftover) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set published = adapter.get_relation(
            target.database, pgshift_final_schema(), node.alias) -%}
        {%- if not rebuilt and published is not none -%}
            {%- do pgshift_publish_view(node.alias, published) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- endif -%}
    select 1
{% endmacro %}

{# (Re)create the build schema's view onto a published table. #}
{% macro pgshift_publish_view(alias, published) %}
    {%- set view = api.Relation.create(
        database=target.database, schema=pgshift_build_schema(),
        identifier=alias, type='view') -%}
    {%- set existing = adapter.get_relation(
        view.database, view.schema, view.identifier) -%}
    {%- if existing is not none -%}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}
    {%- do run_query(pgshift_view_sql(view, published)) -%}
    {%- do adapter.cache_added(view) -%}
{% endmacro %}

{# The statement that makes a build schema's view onto a published table. #}
{% macro pgshift_view_sql(view, published) -%}
    {{ return("create view " ~ view ~ " as select * from " ~ published) }}
{%- endmacro %}
