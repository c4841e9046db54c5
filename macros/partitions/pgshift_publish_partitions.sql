{# One statement (or none): publish a built table's partitions. #}
{#- ALTER TABLE ... SET SCHEMA moves only the relation it names: the
    publish moves the parent, this moves every partition below it, at any
    depth (with its indexes), before the parent goes. It runs after the
    replaced final table was dropped, with its own partitions (DROP
    removes a partitioned table's partitions with it): a relation of the
    final schema that still holds a partition's name is someone else's,
    and nothing is published. A table that is not partitioned has none. -#}
{% macro pgshift_publish_partitions(node, built, final_schema) %}
    {%- if not node.meta.pgshift.get('partitioning') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set body -%}
        declare
            part record;
        begin
            for part in
                select c.relname::text as name, c.oid::regclass as relation
                from pg_partition_tree({{ pgshift_literal(built) }}::regclass) as tree
                inner join pg_class as c on tree.relid = c.oid
                where tree.level > 0
                order by tree.level, c.relname
            loop
                if to_regclass(format('%I.%I',
                        {{ pgshift_literal(final_schema) }}, part.name))
                        is not null then
                    raise exception using message = format(
                        'pgshift: nothing published: %I.%I already exists and '
                        || 'is not a partition of a table pgshift built; the '
                        || 'partition of %s of that name cannot move there',
                        {{ pgshift_literal(final_schema) }}, part.name,
                        {{ pgshift_literal(node.alias) }});
                end if;
                execute format('alter table %s set schema %I',
                    part.relation, {{ pgshift_literal(final_schema) }});
            end loop;
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
