{# The objects of single partitions a final model declares, as "table.name". #}
{#- Their own keys, checks (NOT VALID ones too), indexes and foreign keys:
    what pgshift builds on the partitions itself, for pgshift_declared_names
    (pgshift_keep_dependents keeps the rest, the team's). -#}
{% macro pgshift_partition_declared_names(node) %}
    {%- set names = [] -%}
    {%- set partitioning = node.meta.pgshift.get('partitioning') or {} -%}
    {%- for partition in partitioning.get('partitions', []) -%}
        {%- for item in partition.get('keys', []) + partition.get('checks', [])
                + partition.get('unvalidated_checks', [])
                + partition.get('indexes', [])
                + partition.get('foreign_keys', []) -%}
            {%- do names.append(partition.name ~ '.' ~ item.name) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}
