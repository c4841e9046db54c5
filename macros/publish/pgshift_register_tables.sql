{# Record the final tables pgshift built, and what those of this run hold. #}
{#- Which of them exist is decided when the statement runs: it follows the
    publish in the same transaction. Each table this run rebuilt (built:
    (node, relation) of pgshift_built_tables) holds, once every test passed,
    the rows and checksum the manifest recorded of its source table, over
    the columns its model declares: they are written beside it, and a later
    `migrate` refuses to replace a table that no longer holds them
    (pgshift.verify.reconcile.changed_since_published: the application has
    written to it). The columns tell, after a name map that renames them,
    what was published and is pgshift's own. The source database's name and
    schema the manifest recorded are written too: a later `migrate` from
    another source refuses to replace the table (its tables may bear the
    same names: one schema per tenant). A manifest written by an older
    pgshift has neither, and leaves them unknown. -#}
{% macro pgshift_register_tables(built) %}
    {%- if execute -%}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('built_table')) -%}
    {%- set names = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- do names.append(pgshift_literal(node.alias)) -%}
    {%- endfor -%}
    {%- set rebuilt = [] -%}
    {%- for node, relation in built -%}
        {%- set columns = [] -%}
        {%- for declared in node.columns.values() -%}
            {%- do columns.append(
                pgshift_literal(pgshift_catalog_name(declared.name))) -%}
        {%- endfor -%}
        {%- do rebuilt.append("(" ~ pgshift_literal(node.alias) ~ ", "
            ~ pgshift_literal(node.meta.pgshift.source_table) ~ ", array["
            ~ (columns | join(', ')) ~ "]::text[])") -%}
    {%- endfor -%}
    {%- set sql -%}
    create table if not exists {{ registry }} (
        final_schema text not null,
        table_name text not null,
        built_at timestamptz not null default now(),
        primary key (final_schema, table_name)
    );
    alter table {{ registry }}
    add column if not exists published_rows bigint,
    add column if not exists published_checksum text,
    add column if not exists published_columns text [],
    add column if not exists source_dbname text,
    add column if not exists source_schema text,
    add column if not exists source_table text;
    insert into {{ registry }} (final_schema, table_name)
    select {{ pgshift_literal(pgshift_final_schema()) }}, name
    from unnest(array[{{ names | join(', ') }}]::text[]) as name
    where
        to_regclass(
            format('%I.%I', {{ pgshift_literal(pgshift_final_schema()) }}, name)
        ) is not null
    on conflict (final_schema, table_name) do update set built_at = now()
    {%- if rebuilt %};
    update {{ registry }} as registry
    set
        published_rows = manifest.source_rows,
        published_checksum = manifest.source_checksum,
        published_columns = rebuilt.columns,
        source_table = rebuilt.source_table,
        source_dbname = to_jsonb(manifest) ->> 'source_dbname',
        source_schema = to_jsonb(manifest) ->> 'source_schema'
    from (values {{ rebuilt | join(', ') }})
        as rebuilt (table_name, source_table, columns)
    left join {{ pgshift_ident(var('state_schema'), var('manifest_table')) }}
        as manifest on manifest.table_name = rebuilt.source_table
    where registry.table_name = rebuilt.table_name
        and registry.final_schema = {{ pgshift_literal(pgshift_final_schema()) }}
    {%- endif -%}
    {%- endset -%}
    {{ return(sql) }}
    {%- endif -%}
{% endmacro %}
