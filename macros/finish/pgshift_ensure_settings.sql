{# The statements giving a final table the source table's settings. #}
{#- From meta.pgshift.settings (loader/pgshift/mapping.py, table_settings):
    storage parameters, replica identity, the clustering index, UNLOGGED,
    and the columns' statistics targets, storage and compression, as one
    ALTER TABLE once the keys and indexes it names are there; an index
    column's statistics target, an action starting "alter index ", as an
    ALTER INDEX of its own on the index in the table's schema. -#}
{% macro pgshift_ensure_settings(relation, node) %}
    {%- set table_actions = [] -%}
    {%- set statements = [] -%}
    {%- for action in node.meta.pgshift.get('settings', []) -%}
        {%- if action.startswith('alter index ') -%}
            {%- do statements.append('alter index ' ~ pgshift_ident(relation.schema)
                ~ '.' ~ action[12:]) -%}
        {%- else -%}
            {%- do table_actions.append(action) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if table_actions -%}
        {%- do statements.insert(0, "alter table " ~ relation ~ " "
            ~ (table_actions | join(", "))) -%}
    {%- endif -%}
    {{ return(statements) }}
{% endmacro %}
