{# Add every declared foreign key that the tables in a schema do not have. #}
{#- Each final model lists its keys in meta.pgshift.foreign_keys. In the
    given schema, a key is added when both of its tables are tables there
    (not the build schema's views onto published tables) and no constraint
    of that name is on the child. That covers keys that could not be dbt
    edges (self references, cycles, keys with actions) and keys that a
    publish's `drop ... cascade` removed from children it did not rebuild.
    Existence is checked when the statement runs, so the keys can be added
    in the same transaction that moves the tables in. -#}
{% macro pgshift_ensure_foreign_keys(schema) %}
    {%- if execute -%}
    {%- set models = {} -%}
    {%- for node in pgshift_final_models() -%}
        {%- do models.update({node.name: node}) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for node in models.values() -%}
        {%- set keys = node.meta.pgshift.get('foreign_keys', []) -%}
        {%- for key in keys if key.to in models -%}
            {%- set child = adapter.quote(schema) ~ '.' ~ adapter.quote(node.alias) -%}
            {%- set parent = adapter.quote(schema) ~ '.'
                ~ adapter.quote(models[key.to].alias) -%}
            {%- set columns = [] -%}
            {%- for c in key.columns -%}
                {%- do columns.append(adapter.quote(c)) -%}
            {%- endfor -%}
            {%- set to_columns = [] -%}
            {%- for c in key.to_columns -%}
                {%- do to_columns.append(adapter.quote(c)) -%}
            {%- endfor -%}
            {%- do statements.append(
                "do $pgshift$ begin if (select count(*) from pg_class where oid in ("
                ~ "to_regclass('" ~ child ~ "'), to_regclass('" ~ parent ~ "'))"
                ~ " and relkind in ('r', 'p')) = "
                ~ (1 if child == parent else 2)
                ~ " and not exists (select 1 from pg_constraint"
                ~ " where conrelid = to_regclass('" ~ child ~ "') and conname = '"
                ~ key.name ~ "' and contype = 'f') then alter table " ~ child
                ~ " add constraint " ~ adapter.quote(key.name) ~ " foreign key ("
                ~ (columns | join(', ')) ~ ") references " ~ parent ~ " ("
                ~ (to_columns | join(', ')) ~ ") " ~ key.get('options', '')
                ~ "; end if; end $pgshift$"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
    {%- endif -%}
{% endmacro %}
