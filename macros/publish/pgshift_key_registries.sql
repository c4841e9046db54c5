{# on-run-start: the registries of an older pgshift gain their final schema. #}
{#- Before anything reads them (the guard below it, the publish); see
    pgshift_key_by_final_schema. Each entry goes to the schema holding its
    object: a table or view of the entry's name (this run's final schema
    first, pgshift's build schemas aside); a routine's own schema (its
    signature begins with it, quoted where it must be); a trigger's
    table's; a cast, this run's. Not in the lineage site's run, which
    changes nothing on the target. -#}
{% macro pgshift_key_registries() %}
    {%- if execute and not var('pgshift_docs', false) -%}
    {%- set here = pgshift_literal(pgshift_final_schema()) -%}
    {%- set relation_holder -%}
    (select n.nspname from pg_class as c
     inner join pg_namespace as n on n.oid = c.relnamespace
     where c.relname = r.table_name and c.relkind in ('r', 'p', 'v', 'm')
       and n.nspname not like '%\_pgshift\_build'
     order by n.nspname <> {{ here }}, n.nspname
     limit 1)
    {%- endset -%}
    {%- set routine_holder -%}
    case
        when r.kind = 'trigger' then (
            select n.nspname from pg_trigger as t
            inner join pg_class as c on c.oid = t.tgrelid
            inner join pg_namespace as n on n.oid = c.relnamespace
            where t.tgname = r.name and c.relname = r.on_table
            order by n.nspname <> {{ here }}, n.nspname
            limit 1)
        when r.name like '"%' then replace(
            substring(r.name from '^"((?:[^"]|"")*)"\.'), '""', '"')
        else substring(r.name from '^([^".(]+)\.')
    end
    {%- endset -%}
    {{ pgshift_key_by_final_schema(
        pgshift_ident(var('state_schema'), var('built_table')),
        ['table_name'], relation_holder) }};
    {{ pgshift_key_by_final_schema(
        pgshift_ident(var('state_schema'), var('routines_table', 'built_routines')),
        ['kind', 'name', 'on_table'], routine_holder) }}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
