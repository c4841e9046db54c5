{# The final tables an earlier publish built from the source tables this
   run rebuilt, under names the project no longer gives them. #}
{#- A `tables:` override (or a changed naming rule) gives a source table
    another final name: this run builds it under the new one, and the table
    the earlier run published under the old one is pgshift's and holds the
    same rows. Left in place it would stay behind silently, beside the new
    table, and its indexes and constraints, named as the new table's, stop
    the publish ("relation ... already exists"). The publish drops it once
    the tables it replaces are gone; anything else that depends on it (the
    team's view, a foreign key of a table this run does not rebuild) stops
    the publish, named by PostgreSQL, with nothing changed. Known by the
    registry's source_table, which publishes since it was added record. -#}
{% macro pgshift_renamed_tables(built_tables) -%}
    {%- set sources = [] -%}
    {%- for node, built in built_tables -%}
        {%- do sources.append(
            pgshift_literal(node.meta.pgshift.source_table)) -%}
    {%- endfor -%}
    {%- set aliases = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- do aliases.append(pgshift_literal(node.alias)) -%}
    {%- endfor -%}
    {%- set registry = adapter.get_relation(
        target.database, var('state_schema'), var('built_table')) -%}
    {%- if registry is none or not sources -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select registry.table_name
        from {{ registry }} as registry
        where to_jsonb(registry) ->> 'source_table'
                = any(array[{{ sources | join(', ') }}]::text[])
          and registry.table_name <> all(array[{{ aliases | join(', ') }}]::text[])
          and {{ pgshift_registered_here('registry') }}
          and to_regclass(format('%I.%I',
                {{ pgshift_literal(pgshift_final_schema()) }},
                registry.table_name)) is not null
        order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}
