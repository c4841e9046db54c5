{# The DDL of a table model: dbt's own, or a partitioned final table. #}
{#- dbt-postgres has no partitioning config. A final model whose
    meta.pgshift.partitioning the scaffold wrote (the source table is
    partitioned) is created here, in the root project, which dbt's
    dispatch searches before dbt-postgres: the contract's columns and
    constraints with the source's PARTITION BY, then every partition under
    its mapped name with its bounds (pgshift_create_partitions), then the
    rows, inserted through the parent so that PostgreSQL routes each one
    to its partition. A pre-hook could not do it: the materialization
    creates the table itself, after the pre-hooks. Every other table is
    dbt-postgres's. -#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set node = none -%}
    {%- if model is defined -%}
        {%- set node = graph.nodes.get(model.unique_id) -%}
    {%- endif -%}
    {%- set partitioning = none -%}
    {%- if not temporary and pgshift_is_final_model(node) -%}
        {%- set partitioning = node.meta.pgshift.get('partitioning') -%}
    {%- endif -%}
    {%- if partitioning is none -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- else -%}
        {{ get_assert_columns_equivalent(sql) }}
        create table {{ relation }}
        {{ get_table_columns_and_constraints() }}
        partition by {{ partitioning.key }};
        {{ pgshift_create_partitions(relation, node.alias, partitioning) }}
        insert into {{ relation }} (
            {{ adapter.dispatch('get_column_names', 'dbt')() }}
        )
        {{ get_select_subquery(sql) }}
    {%- endif -%}
{%- endmacro %}
