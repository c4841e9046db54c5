{# Fails when a final table's row count or content checksum differs from what
   the loader recorded for its source table inside the source snapshot. #}
{#- The checksum runs over the columns the final model declares
    (pgshift_declared_columns), as verify's does. -#}
{% test pgshift_matches_source(model, source_table) %}

{%- set columns = pgshift_declared_columns(model) if execute else [] %}

with

source_figures as (

    select
        source_rows,
        source_checksum
    from {{ pgshift_ident(var('state_schema'), var('manifest_table')) }}
    where table_name = {{ pgshift_literal(source_table) }}

),

final_figures as (

    {{ pgshift_table_checksum(model, columns) }}

),

compared as (

    select
        {{ pgshift_literal(source_table) }} as source_table,
        source_figures.source_rows,
        final_figures.final_rows,
        source_figures.source_checksum,
        final_figures.final_checksum
    from final_figures
    left join source_figures on true

)

select * from compared
where
    source_rows is distinct from final_rows
    or source_checksum is distinct from final_checksum

{% endtest %}
