{# on-run-start: the source's sequences that stand on their own. #}
{#- Each sequence of pgshift_source_sequences() (the ones not built with a
    table: not owned, shared by several tables, or only called by the
    application) is created in the final schema with the source's type,
    increment, bounds, start, cache and cycle, or set to them if it is
    there, and UNLOGGED or logged as the source's
    (pgshift_sequence_persistence). The final models' defaults call them by
    name; they are positioned, and owned as on the source, once the tables are published
    (pgshift_publish_sequences). -#}
{% macro pgshift_create_sequences() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for sequence in pgshift_source_sequences() -%}
        {%- set name = pgshift_ident(pgshift_final_schema(), sequence.name) -%}
        {%- do statements.append(
            "create sequence if not exists " ~ name ~ " "
            ~ pgshift_sequence_options(sequence)) -%}
        {%- do statements.append(
            "alter sequence " ~ name ~ " " ~ pgshift_sequence_options(sequence)) -%}
        {%- do statements.append(pgshift_sequence_persistence(
            pgshift_literal(name), sequence.get('unlogged', false))) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
