{# SQL: create a partitioned final table's partitions, each after its parent. #}
{#- From meta.pgshift.partitioning: each partition under its mapped name,
    in the table's schema, with the source's bound (FOR VALUES ... or
    DEFAULT, as pg_get_expr(relpartbound) printed it), the check
    constraints of the partition alone and, for a partition that is itself
    partitioned, its own PARTITION BY; then the NOT NULL of columns that
    are NOT NULL in a partition alone (before the rows: nothing to scan).
    `relation` is the
    table being created (dbt creates it under a temporary name and renames
    it; a partition keeps the name it is created with). -#}
{% macro pgshift_create_partitions(relation, alias, partitioning) -%}
    {%- for partition in partitioning.partitions %}
        create table {{ pgshift_ident(relation.schema, partition.name) }}
            partition of {{ relation if partition.parent == alias
                else pgshift_ident(relation.schema, partition.parent) }}
            {%- if partition.get('checks') %} (
                {%- for check in partition.checks %}
                constraint {{ pgshift_ident(check.name) }}
                    check ({{ check.expression }})
                    {{- ',' if not loop.last }}
                {%- endfor %}
            )
            {%- endif %}
            {{ partition.bound }}
            {%- if partition.get('key') %}
            partition by {{ partition.key }}
            {%- endif %};
    {%- endfor %}
    {%- for partition in partitioning.partitions %}
        {%- for column in partition.get('not_null', []) %}
        alter table {{ pgshift_ident(relation.schema, partition.name) }}
            alter column {{ pgshift_ident(column) }} set not null;
        {%- endfor %}
    {%- endfor %}
{%- endmacro %}
