{# Add each table's primary key and unique constraints once the data is in. #}
{#- From meta.pgshift.keys: the source's name and definition, columns
    renamed. Building a key's index over the loaded rows is several times
    faster than inserting each row into it, and the uniqueness tests have
    run before it. Only tables this run built in the build schema get keys;
    a key of that name already there is kept. -#}
{% macro pgshift_ensure_keys() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node, relation in pgshift_built_tables() -%}
        {%- for key in node.meta.pgshift.get('keys', []) -%}
            {%- do statements.append(
                "do $pgshift$ begin if not exists (select 1 from pg_constraint"
                ~ " where conrelid = '" ~ relation ~ "'::regclass and conname = '"
                ~ key.name ~ "') then alter table " ~ relation ~ " add constraint "
                ~ adapter.quote(key.name) ~ " " ~ key.definition
                ~ "; end if; end $pgshift$"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
