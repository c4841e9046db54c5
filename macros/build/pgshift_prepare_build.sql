{# Make the build schema ready: rebuilt models start empty, others are views. #}
{#- A `dbt build` or `dbt run` rebuilds its selected final models in the
    build schema; whatever an earlier run left there under their names (a
    view, or the tables of a build that failed or was killed) is dropped,
    in one statement. Every other final model that is published gets a view
    onto its final table, so that tests and refs of this run read the
    published data. Each schema's relations are listed once (dbt's cache
    does not hold the final schema, and a lookup per model read its whole
    catalog again). The lineage site's run (the var pgshift_docs) reads the
    final tables where they are, and leaves the build schema alone. -#}
{% macro pgshift_prepare_build() %}
    {%- if execute and not var('pgshift_docs', false) -%}
    {%- set building = pgshift_is_build() -%}
    {%- set build_schema = pgshift_build_schema() -%}
    {%- do adapter.create_schema(api.Relation.create(
        database=target.database, schema=build_schema)) -%}
    {%- set in_build = pgshift_relations_in(build_schema) -%}
    {%- set in_final = pgshift_relations_in(pgshift_final_schema()) -%}
    {%- set leftovers = [] -%}
    {%- set views = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set rebuilt = building and node.unique_id in selected_resources -%}
        {%- for suffix in ['', '__dbt_tmp', '__dbt_backup'] -%}
            {%- set leftover = in_build.get(node.alias ~ suffix) -%}
            {%- if leftover is not none
                    and (rebuilt or suffix or leftover.is_table) -%}
                {%- do leftovers.append(leftover) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set published = in_final.get(node.alias) -%}
        {%- if not rebuilt and published is not none -%}
            {%- do views.append((node.alias, published)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if leftovers -%}
        {%- set drops = [] -%}
        {%- for leftover in leftovers -%}
            {%- do drops.append("drop " ~ ("view" if leftover.is_view
                else "table") ~ " if exists " ~ leftover ~ " cascade") -%}
        {%- endfor -%}
        {%- do run_query(drops | join(";\n")) -%}
        {%- for leftover in leftovers -%}
            {%- do adapter.cache_dropped(leftover) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for alias, published in views -%}
        {%- do pgshift_publish_view(alias, published) -%}
    {%- endfor -%}
    {%- endif -%}
    select 1
{% endmacro %}

{# The tables and views of a schema, by name, read from the catalog once. #}
{% macro pgshift_relations_in(schema) %}
    {%- set found = {} -%}
    {%- set listed = run_query(
        "select c.relname::text, c.relkind::text from pg_class c "
        ~ "where c.relnamespace = to_regnamespace("
        ~ pgshift_literal(pgshift_ident(schema)) ~ ") "
        ~ "and c.relkind in ('r', 'p', 'v', 'm')") -%}
    {%- for row in listed.rows -%}
        {%- do found.update({row[0]: api.Relation.create(
            database=target.database, schema=schema, identifier=row[0],
            type={'v': 'view', 'm': 'materialized_view'}.get(row[1], 'table'))})
        -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}
