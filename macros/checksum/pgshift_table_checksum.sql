{# Row count and order-independent content checksum of a relation. #}
{#- The figure loader/pgshift/checksum.py computes for the source table
    inside its snapshot, by the same rule: the sum of a 64-bit hash of each
    row's text form (the empty text for a relation without columns), with
    timestamptz columns of any precision shifted to UTC and xml columns
    cast to text. The columns are
    (name, dtype) in table order, dtype as format_type() spells it
    (pgshift_checksum_columns); loader/tests/test_macros.py checks, for
    every type the sample and the second source hold, that both give one
    figure. -#}
{% macro pgshift_table_checksum(relation, columns) %}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- set ref = "t." ~ pgshift_ident(column.name) -%}
        {%- if column.dtype.startswith('timestamp')
                and column.dtype.endswith('with time zone') -%}
            {%- set ref = "(" ~ ref ~ " at time zone 'UTC')" -%}
        {%- elif column.dtype in ('xml', 'xml[]') -%}
            {#- As stored: xml's output function drops its declaration. -#}
            {%- set ref = ref ~ "::" ~ column.dtype | replace('xml', 'text') -%}
        {%- endif -%}
        {%- do parts.append(ref) -%}
    {%- endfor -%}
    {%- set row_text = "row(" ~ (parts | join(', ')) ~ ")::text"
        if parts else "''" %}
    select
        count(*) as final_rows,
        coalesce(sum(hashtextextended({{ row_text }}, 0)), 0)::text
        as final_checksum
    from {{ relation }} as t
{%- endmacro %}
