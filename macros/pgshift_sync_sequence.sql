{# Set a key column's sequence so the next insert gets max(column) + 1. #}
{% macro pgshift_sync_sequence(column) %}
    select setval(
        pg_get_serial_sequence('{{ this }}', '{{ column }}'),
        coalesce(max({{ adapter.quote(column) }}), 0) + 1,
        false
    )
    from {{ this }}
{% endmacro %}
