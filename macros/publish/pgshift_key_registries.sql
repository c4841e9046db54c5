{# on-run-start: the registries of an older pgshift gain their final schema. #}
{#- Before anything reads them (the guard below it, the publish); see
    pgshift_key_by_final_schema. Not in the lineage site's run, which
    changes nothing on the target. -#}
{% macro pgshift_key_registries() %}
    {%- if execute and not var('pgshift_docs', false) -%}
    {{ pgshift_key_by_final_schema(
        pgshift_ident(var('state_schema'), var('built_table')),
        ['table_name']) }};
    {{ pgshift_key_by_final_schema(
        pgshift_ident(var('state_schema'), var('routines_table', 'built_routines')),
        ['kind', 'name', 'on_table']) }}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
