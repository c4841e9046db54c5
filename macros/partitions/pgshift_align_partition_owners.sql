{# One statement (or none): give the partitions their table's owner. #}
{#- Runs in the publish after pgshift_apply_privileges gave each published
    table the source's owner: ALTER TABLE ... OWNER TO does not reach a
    partitioned table's partitions, which the build's role still owns.
    Each partition of a partitioned final table this run published, at any
    depth, gets the owner its table has now, as pg_dump gives partitions
    their own owner line. -#}
{% macro pgshift_align_partition_owners(final_schema, built_tables) %}
    {%- set tables = [] -%}
    {%- for node, built in built_tables
            if node.meta.pgshift.get('partitioning') -%}
        {%- do tables.append(pgshift_literal(node.alias)) -%}
    {%- endfor -%}
    {%- if not tables -%}
        {{ return('') }}
    {%- endif -%}
    {%- set body -%}
        declare
            part record;
        begin
            for part in
                select c.oid::regclass as relation,
                       pg_get_userbyid(t.relowner) as owner
                from unnest(array[{{ tables | join(', ') }}]::text[]) as a (name)
                inner join pg_class as t
                    on t.oid = to_regclass(format('%I.%I',
                        {{ pgshift_literal(final_schema) }}, a.name))
                cross join lateral pg_partition_tree(t.oid) as tree
                inner join pg_class as c on tree.relid = c.oid
                where tree.level > 0 and c.relowner <> t.relowner
            loop
                execute format('alter table %s owner to %I',
                    part.relation, part.owner);
            end loop;
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
