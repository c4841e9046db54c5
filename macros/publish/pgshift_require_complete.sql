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
    {#- (table, condition that the object is missing, its name) of each
        object wanted -#}
    {%- set wanted = [] -%}
    {%- for node in models.values() -%}
        {%- set table = pgshift_ident(schema, node.alias) -%}
        {%- if node.name in rebuilt -%}
            {%- for key in node.meta.pgshift.get('keys', []) -%}
                {%- do wanted.append((
                    table,
                    pgshift_constraint_missing_sql(table, key.name),
                    node.alias ~ "." ~ key.name)) -%}
            {%- endfor -%}
            {%- for index in node.meta.pgshift.get('indexes', []) -%}
                {%- set index_name = pgshift_ident(schema, index.name) -%}
                {%- do wanted.append((
                    table,
                    "to_regclass(" ~ pgshift_literal(index_name) ~ ") is null",
                    node.alias ~ "." ~ index.name)) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- for key in node.meta.pgshift.get('foreign_keys', [])
                if (key.get('to_schema') and node.name in rebuilt)
                or (not key.get('to_schema') and key.to in models
                    and (node.name in rebuilt or key.to in rebuilt)) -%}
            {%- set parent = pgshift_foreign_key_parent(schema, key, models) -%}
            {%- do wanted.append((
                table,
                pgshift_is_table_sql(parent) ~ " and "
                    ~ pgshift_constraint_missing_sql(table, key.name),
                node.alias ~ "." ~ key.name)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set body -%}
        declare
            missing text[] := '{}';
        begin
        {%- for table, condition, name in wanted %}
            if {{ pgshift_is_table_sql(table) }} and {{ condition }} then
                missing := missing || {{ pgshift_literal(name) }}::text;
            end if;
        {%- endfor %}
            if missing <> '{}' then
                raise exception using message = 'pgshift: nothing published: '
                    || 'the rows break ' || array_to_string(missing, ', ')
                    || ' (duplicates, NULLs or orphans: see the tests of'
                    || ' these tables, or run dbt build)';
            end if;
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
