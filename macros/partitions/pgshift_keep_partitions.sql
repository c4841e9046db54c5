{# One statement: write down the partitions the team added to a table. #}
{#- Runs in the publish right after pgshift_keep_dependents, before the
    drops: a partition of a replaced final table that the final model does
    not declare (the application's partition maintenance made it on the
    target: CREATE TABLE ... PARTITION OF) would go with the table's DROP.
    It is written down as the statement that recreates it, empty, with its
    bound (and its own PARTITION BY), each after its parent, and
    pgshift_restore_dependents replays it on the new table like the team's
    other objects and records it in the report; one that cannot be
    recreated (the source's rows now fill its range in the default
    partition) stops the publish, or with pgshift_drop_dependents is left
    out and recorded. Its rows are not kept: the new table holds the
    source's. -#}
{% macro pgshift_keep_partitions(built_tables, final_schema) %}
    {%- set tables = [] -%}
    {%- for node, built in built_tables -%}
        {%- set declared = [] -%}
        {%- set partitioning = node.meta.pgshift.get('partitioning') or {} -%}
        {%- for partition in partitioning.get('partitions', []) -%}
            {%- do declared.append(pgshift_literal(partition.name)) -%}
        {%- endfor -%}
        {%- do tables.append((node.alias, declared)) -%}
    {%- endfor -%}
    {%- if not tables -%}
        {{ return('') }}
    {%- endif -%}
    {%- set body -%}
        declare
            final_schema text := {{ pgshift_literal(final_schema) }};
            replaced regclass;
            declared text[];
        begin
        {%- for alias, declared in tables %}
            replaced := to_regclass(
                format('%I.%I', final_schema, {{ pgshift_literal(alias) }}));
            declared := array[{{ declared | join(', ') }}]::text[];
            if replaced is not null then
                insert into pgshift_dependents (kind, object, on_table, statement)
                select
                    'partition',
                    format('%s.%s.%s', final_schema,
                        {{ pgshift_literal(alias) }}, c.relname),
                    format('%s.%s', final_schema, {{ pgshift_literal(alias) }}),
                    format('create table %I.%I partition of %I.%I %s%s',
                        n.nspname, c.relname, pn.nspname, p.relname,
                        pg_get_expr(c.relpartbound, c.oid),
                        case when c.relkind = 'p'
                            then ' partition by ' || pg_get_partkeydef(c.oid)
                            else ''
                        end)
                from pg_partition_tree(replaced) as tree
                inner join pg_class as c on tree.relid = c.oid
                inner join pg_namespace as n on c.relnamespace = n.oid
                inner join pg_class as p on tree.parentrelid = p.oid
                inner join pg_namespace as pn on p.relnamespace = pn.oid
                where tree.level > 0
                    and not c.relname::text = any(declared)
                order by tree.level, c.relname;
            end if;
        {%- endfor %}
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
