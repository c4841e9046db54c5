{# Make the build schema ready: rebuilt models start empty, others are views. #}
{#- A `dbt build` or `dbt run` rebuilds its selected final models in the
    build schema; whatever an earlier run left there under their names (a
    view, or the tables of a build that failed or was killed) is dropped.
    Every other final model that is published gets a view onto its final
    table, so that tests and refs of this run read the published data.
    The lineage site's run (the var pgshift_docs) reads the final tables
    where they are, and leaves the build schema alone. -#}
{% macro pgshift_prepare_build() %}
    {%- if execute and not var('pgshift_docs', false) -%}
    {%- set building = pgshift_is_build() -%}
    {%- set build_schema = pgshift_build_schema() -%}
    {%- do adapter.create_schema(api.Relation.create(
        database=target.database, schema=build_schema)) -%}
    {%- for node in pgshift_final_models() -%}
        {%- set rebuilt = building and node.unique_id in selected_resources -%}
        {%- for suffix in ['', '__dbt_tmp', '__dbt_backup'] -%}
            {%- set leftover = adapter.get_relation(
                target.database, build_schema, node.alias ~ suffix) -%}
            {%- if leftover is not none
                    and (rebuilt or suffix or leftover.is_table) -%}
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
