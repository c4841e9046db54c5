{# Materialization: a source view or materialized view, in the build schema. #}
{#- The model's SQL is the source's definition, renamed by PostgreSQL
    (loader/pgshift/shadow.py); pgshift_source_views() gives its kind,
    reloptions (check option, security_barrier, security_invoker),
    comments and a materialized view's indexes. It is created in the build
    schema over the tables and views this run built there, so that it
    refers to them (by OID, as PostgreSQL stores views) and the publish
    moves it into the final schema with them; a materialized view is
    populated from them. A table or view it reads that this run did not
    build stops it with a message. A view that calls the source's functions
    (or reads such a view) is deferred: the publish creates it, after the
    functions. -#}
{% materialization pgshift_view, adapter='postgres' %}
    {%- set spec = pgshift_source_views().get(model.alias) -%}
    {%- if spec is none -%}
        {{ exceptions.raise_compiler_error(
            "pgshift: " ~ model.alias ~ " is not a view the scaffold "
            ~ "generated; run `python loader/run.py scaffold`") }}
    {%- endif -%}
    {%- set build_schema = pgshift_build_schema() -%}
    {%- for parent_id in model.depends_on.nodes -%}
        {%- set parent = graph.nodes.get(parent_id) -%}
        {%- if parent is not none and parent.resource_type == 'model'
                and not pgshift_source_views().get(
                    parent.alias, {}).get('deferred') -%}
            {%- set built = adapter.get_relation(
                target.database, build_schema, parent.alias) -%}
            {%- if built is none
                    or (pgshift_is_final_model(parent) and not built.is_table) -%}
                {{ exceptions.raise_compiler_error(
                    "pgshift: " ~ spec.kind ~ " " ~ model.alias ~ " reads "
                    ~ parent.alias ~ ", which this run did not build; build "
                    ~ "them together (dbt build -s +" ~ model.alias ~ ")") }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set relation = api.Relation.create(
        database=target.database, schema=build_schema,
        identifier=model.alias, type='view') -%}
    {%- set existing = adapter.get_relation(
        target.database, build_schema, model.alias) -%}
    {%- if existing is not none -%}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}
    {%- set path = [build_schema, pgshift_final_schema(), target.schema] -%}
    {%- set quoted = [] -%}
    {%- for schema in path -%}
        {%- do quoted.append(pgshift_ident(schema)) -%}
    {%- endfor -%}
    {%- if spec.deferred -%}
        {#- It calls functions the publish creates: the publish creates it
            too, once they are there (pgshift_publish_views). -#}
        {%- call statement('main') -%}
            select 1
        {%- endcall -%}
        {{ return({'relations': []}) }}
    {%- endif -%}
    {%- call statement('main') -%}
        select set_config(
            'search_path', {{ pgshift_literal(quoted | join(', ')) }}, true
        );
        {{ pgshift_view_statements(spec, relation, sql) }}
    {%- endcall -%}
    {%- do adapter.commit() -%}
    {{ return({'relations': [relation]}) }}
{% endmaterialization %}
