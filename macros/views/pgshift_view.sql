{# Materialization: a source view or materialized view, in the build schema. #}
{#- The model's SQL is the source's definition, renamed by PostgreSQL
    (loader/pgshift/shadow.py); pgshift_source_views() gives its kind,
    reloptions (check option, security_barrier, security_invoker),
    comments and a materialized view's indexes. It is created in the build
    schema over the tables and views this run built there, so that it
    refers to them (by OID, as PostgreSQL stores views) and the publish
    moves it into the final schema with them; a materialized view is
    populated from them. A table or view it reads that this run did not
    build stops it with a message. -#}
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
        {%- if parent is not none and parent.resource_type == 'model' -%}
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
    {%- call statement('main') -%}
        select set_config(
            'search_path', {{ pgshift_literal(quoted | join(', ')) }}, true
        );
        create {{ spec.kind }} {{ relation }}
        {%- if spec.options %} with ({{ spec.options | join(', ') }}){% endif %}
        as
{{ sql }}
        {%- if spec.kind == 'materialized view' %}
        with {{ '' if spec.populated else 'no ' }}data{% endif %};
        {%- for index in spec.indexes %}
        create {{ 'unique ' if index.unique }}index {{ pgshift_ident(index.name) }}
            on {{ relation }} using {{ index.using }};
        {%- endfor %}
        {%- if spec.comment is not none %}
        comment on {{ spec.kind }} {{ relation }}
            is {{ pgshift_literal(spec.comment) }};
        {%- endif %}
        {%- for column, comment in spec.column_comments.items() %}
        comment on column {{ relation }}.{{ pgshift_ident(column) }}
            is {{ pgshift_literal(comment) }};
        {%- endfor %}
    {%- endcall -%}
    {%- do adapter.commit() -%}
    {{ return({'relations': [relation]}) }}
{% endmaterialization %}
