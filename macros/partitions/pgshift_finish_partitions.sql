{# The statements finishing each partition: defaults, keys, indexes, comment. #}
{#- Part of the post-hook, after the parent's serial columns got their
    defaults (ALTER TABLE ... SET DEFAULT on the parent sets every
    partition's): the defaults a partition has of its own on the source,
    not its table's, or none where it has none (a partition made LIKE its
    table and attached), set on it alone (ONLY: not on the partitions of
    a partition itself partitioned). After the parent's keys and indexes,
    which PostgreSQL gives every partition: then the primary key, unique and
    exclusion constraints and the indexes that a partition has on the
    source beyond its parent's (meta.pgshift.partitioning), under their
    mapped names, the checks the source added NOT VALID (NOT VALID again),
    and its comment. Created after the parent's, so that
    PostgreSQL does not take one of them for the partition's copy of a
    parent's index. The source's rows kept them, so rows that break one
    fail the model. -#}
{% macro pgshift_finish_partitions(relation, node) %}
    {%- set statements = [] -%}
    {%- set partitioning = node.meta.pgshift.get('partitioning') or {} -%}
    {%- for partition in partitioning.get('partitions', []) -%}
        {%- set table = pgshift_ident(relation.schema, partition.name) -%}
        {%- for own in partition.get('defaults', []) -%}
            {%- do statements.append(
                "alter table only " ~ table ~ " alter column "
                ~ pgshift_ident(own.column)
                ~ (" set default " ~ own.default if own.get('default') is not none
                   else " drop default")) -%}
        {%- endfor -%}
        {%- for key in partition.get('keys', []) -%}
            {%- do statements.append(
                "alter table " ~ table ~ " add constraint "
                ~ pgshift_ident(key.name) ~ " " ~ key.definition) -%}
        {%- endfor -%}
        {%- set unvalidated = {'unvalidated_checks':
            partition.get('unvalidated_checks', [])} -%}
        {%- do statements.extend(
            pgshift_ensure_checks(table, {'meta': {'pgshift': unvalidated}})) -%}
        {%- if partition.get('comment') is not none -%}
            {%- do statements.append("comment on table " ~ table ~ " is "
                ~ pgshift_literal(partition.comment)) -%}
        {%- endif -%}
        {%- for index in partition.get('indexes', []) -%}
            {%- do statements.append(
                "create " ~ ("unique " if index.unique else "") ~ "index "
                ~ pgshift_ident(index.name) ~ " on " ~ table
                ~ " using " ~ index.using) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
