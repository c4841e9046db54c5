{# The view models this run built: (node, relation in the build schema). #}
{#- pgshift_view creates them there; the publish moves them. A deferred
    view (one that calls the source's functions, or reads such a view) is
    not in the build schema: it counts as built when its model succeeded in
    this run, with no relation, and its node carries its compiled SQL; the
    publish creates it. Only in on-run-end, where `results` is. -#}
{% macro pgshift_built_views() -%}
    {%- set built = [] -%}
    {%- set specs = pgshift_source_views() -%}
    {%- set ran = {} -%}
    {%- for result in results if result.status == 'success' -%}
        {%- do ran.update({result.node.unique_id: result.node}) -%}
    {%- endfor -%}
    {%- for node in pgshift_view_models() -%}
        {%- if specs.get(node.alias, {}).get('deferred') -%}
            {%- if node.unique_id in ran -%}
                {%- do built.append((ran[node.unique_id], none)) -%}
            {%- endif -%}
        {%- else -%}
            {%- set relation = adapter.get_relation(
                target.database, pgshift_build_schema(), node.alias) -%}
            {%- if relation is not none -%}
                {%- do built.append((node, relation)) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(built) }}
{%- endmacro %}
