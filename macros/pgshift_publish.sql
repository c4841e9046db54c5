{# Move the tables this run built into the final schema, all at once. #}
{#- Runs last, and only after a `dbt build` or `dbt run` in which every
    node succeeded: a model error, a failed test or a skipped node leaves
    the final schema exactly as it was, and the built tables in the build
    schema for inspection. One transaction drops each replaced final table
    (with the foreign keys pointing at it), moves the new one in with its
    keys, indexes and sequences, puts the build schema's view back, adds the
    foreign keys that the move removed, checks that every key, index and
    foreign key of the moved tables is there (or undoes it all), and records
    the tables as pgshift's. -#}
{% macro pgshift_publish() %}
    {%- if execute and pgshift_is_build() -%}
    {%- set failed = [] -%}
    {%- for result in results
            if result.status in ['error', 'fail', 'skipped', 'runtime error'] -%}
        {%- do failed.append(result.node.name) -%}
    {%- endfor -%}
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
    {%- do statements.append(pgshift_keep_dependents(
        replaced, final_schema, build_schema, pgshift_declared_names())) -%}
    {%- for node, built in built_tables -%}
        {%- set final = api.Relation.create(
            database=target.database, schema=final_schema,
            identifier=node.alias, type='table') -%}
        {%- do statements.append("drop table if exists " ~ final ~ " cascade") -%}
        {%- do statements.append(
            "alter table " ~ built ~ " set schema " ~ adapter.quote(final_schema)) -%}
        {%- do statements.append(pgshift_view_sql(built, final)) -%}
    {%- endfor -%}
    {%- do statements.append(pgshift_ensure_foreign_keys(final_schema)) -%}
    {%- do statements.append(pgshift_restore_dependents(
        adapter.quote(var('state_schema')) ~ '.' ~ adapter.quote(var('carried_table')))) -%}
    {%- do statements.append(pgshift_require_complete(final_schema, built_tables)) -%}
    {%- do statements.append(pgshift_register_tables()) -%}
    {{ statements | reject('equalto', '') | join(";\n") }}
    {%- endif -%}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}

{# One statement: fail, naming them, if moved tables lack declared keys. #}
{#- A post-hook leaves out a key, index or foreign key that the rows break,
    so that the tests can name the rows; when no test ran (`dbt run`,
    tests excluded) or a child that was not rebuilt has orphans, this
    raises inside the publish's transaction, and nothing is published. -#}
{% macro pgshift_require_complete(schema, built_tables) %}
    {%- set rebuilt = [] -%}
    {%- for node, built in built_tables -%}
        {%- do rebuilt.append(node.name) -%}
    {%- endfor -%}
    {%- set models = pgshift_final_models_by_name() -%}
    {%- set checks = [] -%}
    {%- for node in models.values() -%}
        {%- set table = adapter.quote(schema) ~ '.' ~ adapter.quote(node.alias) -%}
        {#- (condition that it is missing, name) of each wanted object -#}
        {%- set wanted = [] -%}
        {%- if node.name in rebuilt -%}
            {%- for key in node.meta.pgshift.get('keys', []) -%}
                {%- do wanted.append((
                    pgshift_constraint_missing_sql(table, key.name),
                    node.alias ~ "." ~ key.name)) -%}
            {%- endfor -%}
            {%- for index in node.meta.pgshift.get('indexes', []) -%}
                {%- do wanted.append((
                    "to_regclass(" ~ pgshift_literal(adapter.quote(schema) ~ '.'
                        ~ adapter.quote(index.name)) ~ ") is null",
                    node.alias ~ "." ~ index.name)) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- for key in node.meta.pgshift.get('foreign_keys', [])
                if key.to in models and (node.name in rebuilt or key.to in rebuilt) -%}
            {%- do wanted.append((
                pgshift_is_table_sql(adapter.quote(schema) ~ '.'
                    ~ adapter.quote(models[key.to].alias))
                    ~ " and " ~ pgshift_constraint_missing_sql(table, key.name),
                node.alias ~ "." ~ key.name)) -%}
        {%- endfor -%}
        {%- for condition, name in wanted -%}
            {%- do checks.append(
                "if " ~ pgshift_is_table_sql(table) ~ " and " ~ condition
                ~ " then missing := missing || " ~ pgshift_literal(name)
                ~ "::text; end if;"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(
        "do $pgshift$ declare missing text[] := '{}'; begin " ~ (checks | join(' '))
        ~ " if missing <> '{}' then raise exception 'pgshift: nothing published: "
        ~ "the rows break % (duplicates, NULLs or orphans: see the tests of these"
        ~ " tables, or run dbt build)', array_to_string(missing, ', '); end if;"
        ~ " end $pgshift$"
    ) }}
{% endmacro %}
