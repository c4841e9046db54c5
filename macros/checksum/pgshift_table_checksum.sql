{# Row count and order-independent content checksum of a relation. #}
{#- The same figure the loader records for the source table inside its
    snapshot (loader/pgshift/checksum.py): the sum of a 64-bit hash of each
    row's text form, timestamptz values shifted to UTC. -#}
{% macro pgshift_table_checksum(relation, columns) %}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- set ref = "t." ~ pgshift_ident(column.name) -%}
        {%- if column.dtype | lower == 'timestamp with time zone' -%}
            {%- set ref = "(" ~ ref ~ " at time zone 'UTC')" -%}
        {%- endif -%}
        {%- do parts.append(ref) -%}
    {%- endfor %}
    select
        count(*) as final_rows,
        coalesce(
            sum(hashtextextended(row({{ parts | join(', ') }})::text, 0)),
            0
        )::text as final_checksum
    from {{ relation }} as t
{%- endmacro %}
