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
