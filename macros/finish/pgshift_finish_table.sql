{# Post-hook of every final model: the table as the application knows it. #}
{#- Runs in the model's own transaction, right after its rows are in, so
    the two dbt threads finish different tables at the same time, and
    another model sees the table only finished. From meta.pgshift, in
    order: the identity columns' and the serial columns' sequences, set
    past max(id), primary and unique keys, indexes, the checks the source
    never validated (NOT VALID), the table's settings (storage
    parameters, replica identity, clustering index, column statistics),
    those of partitions alone (pgshift_finish_partitions), the extended
    statistics objects, ANALYZE, then the
    foreign keys to parents already built (and those of partitions alone). A foreign key whose parent is
    built later (cycles, parents not rebuilt) is added on-run-end and in
    the publish. Duplicates or orphans leave a key out instead of failing
    the model: the table's uniqueness and relationships tests then scan the
    rows and name them, and pgshift_require_complete keeps such a table
    from being published even when no test runs (`dbt run`). -#}
{% macro pgshift_finish_table() %}
    {%- if execute -%}
    {%- set node = graph.nodes[model.unique_id] -%}
    {%- if pgshift_is_final_model(node) -%}
    {%- set statements = pgshift_ensure_identities(this, node)
        + pgshift_ensure_serials(this, node)
        + pgshift_ensure_keys(this, node)
        + pgshift_ensure_indexes(this, node)
        + pgshift_ensure_checks(this, node)
        + pgshift_ensure_settings(this, node)
        + pgshift_finish_partitions(this, node)
        + pgshift_ensure_statistics(this, node)
        + ["analyze " ~ this]
        + pgshift_add_foreign_keys(this.schema, node)
        + pgshift_add_partition_foreign_keys(this.schema, node) -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
    {%- endif -%}
{% endmacro %}
