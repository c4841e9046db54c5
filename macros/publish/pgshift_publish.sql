{# Move the tables this run built into the final schema, all at once. #}
{#- Runs after the other steps but the stand-ins' drop, and only after a
    `dbt build` or `dbt run` in which every node succeeded: a model error, a failed test or a skipped node leaves
    the final schema exactly as it was, and the built tables in the build
    schema for inspection. One transaction drops each replaced final table
    (with the foreign keys pointing at it, and its partitions), moves the
    new one in with its keys, indexes, sequences and partitions
    (pgshift_publish_partitions), adds the foreign keys that the move
    removed, gives the moved tables the source's row-level security and
    policies and moves in the views built over them, adds the checks that
    read other tables, against this build's rows (pgshift_publish_checks),
    recreates the
    target's own objects that depended on the replaced tables (pgshift_keep_dependents), checks
    that every key, index and foreign key of the moved tables is there (or
    undoes it all), gives the objects the source's owners and privileges
    (pgshift_apply_privileges), and records the tables as pgshift's. -#}
{% macro pgshift_publish() %}
    {%- if execute and pgshift_is_build() -%}
    {%- set failed = pgshift_failed_nodes() -%}
    {%- set final_schema = pgshift_final_schema() -%}
    {%- set build_schema = pgshift_build_schema() -%}
    {%- if failed -%}
        {%- do log(
            "pgshift: nothing published: " ~ (failed | length)
            ~ " nodes failed or were skipped (" ~ (failed[:5] | join(', '))
            ~ (", ..." if failed | length > 5 else "") ~ "). The tables in "
            ~ final_schema ~ " are unchanged; this run's tables stay in "
            ~ build_schema ~ " until the next dbt command.", info=true) -%}
        select 1
    {%- else -%}
    {%- set statements = [] -%}
    {%- set built_tables = pgshift_built_tables() -%}
    {%- set replaced = [] -%}
    {%- for node, built in built_tables -%}
        {%- do replaced.append(node.alias) -%}
    {%- endfor -%}
    {#- Published earlier from the same source tables under other names. -#}
    {%- set renamed = pgshift_renamed_tables(built_tables) -%}
    {#- The target's own objects on the replaced tables, written down
        before the drops remove them. -#}
    {%- set views = [] -%}
    {%- for node, built in pgshift_built_views() -%}
        {%- do views.append(node.alias) -%}
    {%- endfor -%}
    {%- do statements.append(pgshift_keep_dependents(
        replaced, final_schema, build_schema, pgshift_declared_names(),
        views)) -%}
    {#- The partitions the team added to them (the drops remove them too). -#}
    {%- do statements.append(
        pgshift_keep_partitions(built_tables, final_schema)) -%}
    {%- do statements.append(pgshift_publish_sequences(true)) -%}
    {%- for node, built in built_tables -%}
        {%- set final = api.Relation.create(
            database=target.database, schema=final_schema,
            identifier=node.alias, type='table') -%}
        {%- do statements.append(
            "drop table if exists " ~ final ~ " cascade") -%}
    {%- endfor -%}
    {#- Once the replaced tables (and their foreign keys) are gone: what
        still depends on one of these is the team's, and stops the publish,
        named by PostgreSQL, rather than be dropped with it. -#}
    {%- for name in renamed -%}
        {%- do statements.append(
            "drop table " ~ pgshift_ident(final_schema, name)) -%}
    {%- endfor -%}
    {%- for node, built in built_tables -%}
        {%- do statements.append(
            pgshift_publish_partitions(node, built, final_schema)) -%}
        {%- do statements.append(
            "alter table " ~ built ~ " set schema " ~ pgshift_ident(final_schema)
        ) -%}
        {%- do statements.append(
            pgshift_publish_statistics(node, built, final_schema)) -%}
    {%- endfor -%}
    {%- do statements.append(pgshift_ensure_foreign_keys(final_schema)) -%}
    {#- The source's functions and triggers, before the target's own objects
        (a view of the team's may call one). -#}
    {%- do statements.append(
        pgshift_publish_routines(final_schema, replaced)) -%}
    {#- The source's row-level security and policies on the moved tables,
        then the views built over them (macros/views/). -#}
    {%- do statements.append(
        pgshift_publish_policies(final_schema, built_tables)) -%}
    {%- do statements.append(
        pgshift_publish_views(final_schema, build_schema)) -%}
    {#- The checks whose functions read other tables: now they read this
        build's tables and views. -#}
    {%- do statements.append(
        pgshift_publish_checks(final_schema, built_tables)) -%}
    {%- do statements.append(pgshift_restore_dependents(
        pgshift_ident(var('state_schema'), var('carried_table')))) -%}
    {%- for name in renamed -%}
        {%- do statements.append("insert into "
            ~ pgshift_ident(var('state_schema'), var('carried_table'))
            ~ " (kind, object, on_table, outcome, detail) values ('table', "
            ~ pgshift_literal(final_schema ~ '.' ~ name) ~ ", "
            ~ pgshift_literal(final_schema ~ '.' ~ name) ~ ", 'dropped', "
            ~ "'an earlier run published it from a source table the project "
            ~ "now names otherwise; this run published that table under its "
            ~ "new name'); delete from "
            ~ pgshift_ident(var('state_schema'), var('built_table'))
            ~ " as r where table_name = " ~ pgshift_literal(name)
            ~ " and " ~ pgshift_registered_here('r')) -%}
    {%- endfor -%}
    {%- do statements.append(pgshift_align_sequence_owners()) -%}
    {%- do statements.append(pgshift_publish_sequences(false)) -%}
    {#- The source's comments on indexes, constraints, triggers, policies,
        routines, types and sequences. -#}
    {%- do statements.append(
        pgshift_publish_comments(final_schema, built_tables)) -%}
    {#- The source's owners and grants, once every object is there. -#}
    {%- do statements.append(pgshift_apply_privileges()) -%}
    {%- do statements.append(
        pgshift_align_partition_owners(final_schema, built_tables)) -%}
    {%- do statements.append(
        pgshift_require_complete(final_schema, built_tables)) -%}
    {%- do statements.append(pgshift_register_tables(built_tables)) -%}
    {%- do statements.append(pgshift_register_views(final_schema)) -%}
    {{ statements | reject('equalto', '') | join(";\n") }}
    {%- endif -%}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
