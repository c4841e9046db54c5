{# Materialization: a final model, created under its own name in the build schema. #}
{#- dbt's `table` creates an intermediate relation, renames the existing
    one to a backup, renames the intermediate into place and drops the
    backup: four adapter calls and three cache lookups per model, so that
    readers of the old table never see it missing. Nothing reads a final
    model's relation in the build schema during a build:
    pgshift_prepare_build has already dropped it (it would be a stand-in
    view or a leftover) for every model the run rebuilds, and the publish
    moves the built tables to the final schema afterwards. So the table is
    created where it ends: the same statements as dbt's `table` otherwise
    (the pre-hooks, the contract's column check and its CREATE and INSERT,
    or the partitioned DDL of postgres__create_table_as, the post-hooks in
    the model's transaction, grants, persist_docs, one commit), and the
    same relation returned for dbt's cache. A relation of that name still
    there (a run whose on-run-start hooks were skipped) is dropped in the
    model's transaction, so that a failure leaves it as it was. -#}
{% materialization pgshift_table, adapter='postgres' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {#- BEGIN happens here. -#}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is not none -%}
        {%- do adapter.drop_relation(existing_relation) -%}
    {%- endif -%}

    {%- call statement('main') -%}
        {{ get_create_table_as_sql(False, target_relation, sql) }}
    {%- endcall -%}

    {%- do create_indexes(target_relation) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}

    {%- set should_revoke = should_revoke(
        existing_relation, full_refresh_mode=True) -%}
    {%- do apply_grants(
        target_relation, grant_config, should_revoke=should_revoke) -%}

    {%- do persist_docs(target_relation, model) -%}

    {#- COMMIT happens here. -#}
    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
