{# Refuse to replace target tables that pgshift did not build. #}
{#- A final table's name may already be taken on the target by a table
    someone else made (a half-finished hand migration, the application's own
    schema). dbt would silently replace it. Unless the var
    pgshift_replace_existing is true, stop before any model runs and name
    those tables. Tables pgshift built are recorded by pgshift_register_tables
    in <state_schema>.<built_table>. -#}
{% macro pgshift_guard_existing_tables() %}
    {%- if execute and not var('pgshift_replace_existing', false) -%}
    {%- set registry = adapter.get_relation(
        target.database, var('state_schema'), var('built_table')) -%}
    {%- set built = [] -%}
    {%- if registry is not none -%}
        {%- set rows = run_query('select table_name from ' ~ registry
            ~ ' as r where ' ~ pgshift_registered_here('r')) -%}
        {%- for row in rows -%}
            {%- do built.append(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set foreign = [] -%}
    {%- set existing = pgshift_relations_in(pgshift_final_schema()) -%}
    {%- for node in pgshift_final_models() -%}
        {%- set relation = existing.get(node.alias) -%}
        {%- if relation is not none and node.alias not in built -%}
            {%- do foreign.append(pgshift_final_schema() ~ '.' ~ node.alias) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if foreign -%}
        {{ exceptions.raise_compiler_error(
            "pgshift: these tables already exist on the target and were not "
            ~ "built by pgshift: " ~ (foreign | sort | join(', '))
            ~ ". Nothing was changed. To replace them with the migrated tables "
            ~ "(their current rows are dropped; the target's own keys, "
            ~ "views, triggers and grants on them are recreated on the new "
            ~ "tables, or the publish stops naming the one that cannot be), "
            ~ "run `python loader/run.py migrate --replace-existing` (dbt: "
            ~ "--vars '{pgshift_replace_existing: true}'); to keep them, "
            ~ "migrate into another database or schema."
        ) }}
    {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
