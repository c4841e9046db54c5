{# The statements that add the foreign keys of partitions alone. #}
{#- Each partition with foreign keys of its own (meta.pgshift.partitioning)
    is handed to pgshift_add_foreign_keys as a table of its own, so that its
    keys are added as a final table's are: in the post-hook when their
    parent is built, otherwise on-run-end and in the publish
    (pgshift_ensure_foreign_keys). models: as pgshift_add_foreign_keys
    takes it. -#}
{% macro pgshift_add_partition_foreign_keys(schema, node, models=none) %}
    {%- set statements = [] -%}
    {%- set partitioning = node.meta.pgshift.get('partitioning') or {} -%}
    {%- for partition in partitioning.get('partitions', [])
            if partition.get('foreign_keys') -%}
        {%- do statements.extend(pgshift_add_foreign_keys(schema, {
            'alias': partition.name,
            'meta': {'pgshift': {'foreign_keys': partition.foreign_keys}},
        }, models)) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
