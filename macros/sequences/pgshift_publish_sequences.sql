{# In the publish: the standalone sequences' owners and positions. #}
{#- Before the replaced tables are dropped (`before` true), a sequence a
    replaced table's column owns is released (OWNED BY NONE), so that the
    drop does not take it, and the defaults of other tables calling it,
    along. Once the new tables are in (`before` false), each sequence is
    owned by its column again, as on the source, and set where the source's
    stands (pgshift_sequence_position), past the values of the published
    columns that draw from it. -#}
{% macro pgshift_publish_sequences(before) %}
    {%- set final_schema = pgshift_final_schema() -%}
    {%- set statements = [] -%}
    {%- for sequence in pgshift_source_sequences() -%}
        {%- set name = pgshift_ident(final_schema, sequence.name) -%}
        {%- if before -%}
            {%- if sequence.get('owned_by') -%}
                {%- do statements.append(
                    "alter sequence if exists " ~ name ~ " owned by none") -%}
            {%- endif -%}
        {%- else -%}
            {%- if sequence.get('owned_by') -%}
                {%- do statements.append(
                    "alter sequence " ~ name ~ " owned by "
                    ~ pgshift_ident(final_schema, sequence.owned_by[0],
                        sequence.owned_by[1])) -%}
            {%- endif -%}
            {%- set drawn = [] -%}
            {%- for table, column in sequence.drawn_by -%}
                {%- do drawn.append(
                    (pgshift_ident(final_schema, table), column)) -%}
            {%- endfor -%}
            {%- do statements.append(pgshift_sequence_position(
                pgshift_literal(name), sequence.source, sequence.increment, sequence.start,
                drawn)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
{% endmacro %}
