{# on-run-end, last: drop the build schema's views onto published tables. #}
{#- The views pgshift_prepare_build made for this command's tests and refs
    would otherwise stay on the application's tables after the migration,
    and PostgreSQL refuses to change the type of a column a view reads or
    to drop it: the application's own next schema migration would fail.
    The build schema itself goes when nothing else is left in it. After a
    run in which a node failed they stay, with the failed build's tables,
    until the next dbt command: the failing test is run again over them to
    name its failing checks (pgshift.transform.failing_checks). -#}
{% macro pgshift_drop_stand_ins() %}
    {%- if execute and not var('pgshift_docs', false)
            and not pgshift_failed_nodes() -%}
    {%- set build_schema = pgshift_build_schema() -%}
    {%- set in_build = pgshift_relations_in(build_schema) -%}
    {%- set drops = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set stand_in = in_build.get(node.alias) -%}
        {%- if stand_in is not none and stand_in.is_view -%}
            {%- do drops.append("drop view if exists " ~ stand_in) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set schema = pgshift_literal(pgshift_ident(build_schema)) -%}
    {%- do drops.append(pgshift_do(
        "begin if not exists (select 1 from pg_depend where refclassid = "
        ~ "'pg_namespace'::regclass and refobjid = to_regnamespace("
        ~ schema ~ ")) then execute 'drop schema if exists ' || "
        ~ schema ~ "; end if; end")) -%}
    {{ drops | join(";\n") }}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
