{# Add every declared foreign key that the target tables do not have. #}
{#- Each final model lists its keys in meta.pgshift.foreign_keys. A key is
    added when both tables exist and no constraint of that name is on the
    table: keys that could not be dbt edges (self references, cycles, keys
    with actions) and keys a table swap's `drop ... cascade` removed. -#}
{% macro pgshift_ensure_foreign_keys() %}
    {%- if execute -%}
    {%- set models = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- do models.update({node.name: node}) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for node in models.values() -%}
        {%- set keys = node.meta.get('pgshift', {}).get('foreign_keys', []) -%}
        {%- for key in keys if key.to in models -%}
            {%- set parent = models[key.to] -%}
            {%- set child_rel = adapter.get_relation(
                node.database, node.schema, node.alias) -%}
            {%- set parent_rel = adapter.get_relation(
                parent.database, parent.schema, parent.alias) -%}
            {%- if child_rel is not none and parent_rel is not none -%}
                {%- set columns = [] -%}
                {%- for c in key.columns -%}
                    {%- do columns.append(adapter.quote(c)) -%}
                {%- endfor -%}
                {%- set to_columns = [] -%}
                {%- for c in key.to_columns -%}
                    {%- do to_columns.append(adapter.quote(c)) -%}
                {%- endfor -%}
                {%- do statements.append(
                    "do $pgshift$ begin if not exists (select 1 from pg_constraint"
                    ~ " where conrelid = '" ~ child_rel ~ "'::regclass and conname = '"
                    ~ key.name ~ "' and contype = 'f') then alter table " ~ child_rel
                    ~ " add constraint " ~ adapter.quote(key.name) ~ " foreign key ("
                    ~ (columns | join(', ')) ~ ") references " ~ parent_rel ~ " ("
                    ~ (to_columns | join(', ')) ~ ") " ~ key.get('options', '')
                    ~ "; end if; end $pgshift$"
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
