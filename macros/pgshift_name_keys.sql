{# Give primary keys and unique constraints their source names. #}
{#- dbt builds a table as <name>__dbt_tmp, so its keys are named after that
    (users__dbt_tmp_pkey). In the build schema, each key listed in
    meta.pgshift.keys is renamed to its source name, when that name is free
    there. The key is found by its type and columns. -#}
{% macro pgshift_name_keys() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set relation = adapter.get_relation(
            node.database, node.schema, node.alias) -%}
        {%- for key in node.meta.pgshift.get('keys', [])
                if relation is not none and relation.is_table -%}
            {%- set columns = [] -%}
            {%- for c in key.columns -%}
                {%- do columns.append("'" ~ c ~ "'") -%}
            {%- endfor -%}
            {%- do statements.append(
                "do $pgshift$ declare current_name name; begin "
                ~ "select con.conname into current_name from pg_constraint con "
                ~ "where con.conrelid = '" ~ relation ~ "'::regclass and con.contype = '"
                ~ ('p' if key.type == 'primary_key' else 'u') ~ "' and array("
                ~ "select a.attname::text from unnest(con.conkey) with ordinality k(n, o) "
                ~ "join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n "
                ~ "order by k.o) = array[" ~ (columns | join(', ')) ~ "]::text[]; "
                ~ "if current_name is not null and current_name <> '" ~ key.name
                ~ "' and to_regclass('" ~ adapter.quote(node.schema) ~ "."
                ~ adapter.quote(key.name) ~ "') is null then execute format("
                ~ "'alter table " ~ relation ~ " rename constraint %I to %I', "
                ~ "current_name, '" ~ key.name ~ "'); end if; end $pgshift$"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
