{# Statements giving the target the source's comments on its other objects. #}
{#- Indexes, constraints, triggers and policies of the tables this publish
    moved in, and the schema's routines, types, sequences and domain checks
    (pgshift_source_comments(), written by scaffold, loader/pgshift/comments.py):
    one COMMENT ON each, after every object is there and before the owners
    change. Tables', columns' and views' comments are set with them. The
    schema's own comment goes onto a final schema the role owns (one it does
    not keeps its comment, and schema parity names the difference). -#}
{% macro pgshift_publish_comments(final_schema, built_tables) %}
    {%- set moved = [] -%}
    {%- for node, built in built_tables -%}
        {%- do moved.append(node.alias) -%}
    {%- endfor -%}
    {%- set schema = pgshift_ident(final_schema) -%}
    {%- set statements = [] -%}
    {%- for comment in pgshift_source_comments()
            if not comment.table or comment.table in moved -%}
        {%- if comment.kind == 'schema' -%}
            {%- set owner = run_query(
                "select pg_has_role(nspowner, 'USAGE') from pg_namespace "
                ~ "where nspname = " ~ pgshift_literal(final_schema)) -%}
            {%- set address = ('schema ' ~ schema)
                if owner.columns[0].values() | first else none -%}
        {%- elif comment.kind == 'domain constraint' -%}
            {%- set address = 'constraint ' ~ comment.name ~ ' on domain '
                ~ schema ~ '.' ~ comment.on -%}
        {%- elif comment.on -%}
            {%- set address = comment.kind ~ ' ' ~ comment.name ~ ' on '
                ~ schema ~ '.' ~ comment.on -%}
        {%- else -%}
            {%- set address = comment.kind ~ ' ' ~ schema ~ '.'
                ~ comment.name -%}
        {%- endif -%}
        {%- if address -%}
            {%- do statements.append(
                'comment on ' ~ address ~ ' is ' ~ pgshift_literal(comment.text)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
{% endmacro %}
