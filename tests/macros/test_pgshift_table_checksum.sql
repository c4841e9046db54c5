{# pgshift_table_checksum hashes each row's text form, timestamptz in UTC. #}
{#- Each case: a relation (a subquery), its columns as
    pgshift_checksum_columns gives them, and the text form each row must
    hash to, written out. timestamptz columns, of any precision, read in
    UTC whatever the session's time zone (the values are written at +02);
    timestamp without time zone as it is; a column name holding a double
    quote; NULLs; no rows; no columns. The tests in loader/tests/
    test_macros.py compare the macro with the loader's checksum over real
    tables of every type. -#}
{%- set timestamps -%}
    (
        select *
        from (
            values
            (
                timestamptz '2024-01-01 12:00:00+02',
                timestamptz '2024-06-30 23:59:59.123+02',
                timestamp '2024-01-01 12:00:00',
                'it''s'
            ),
            (null, null, null, null)
        ) as v ("at", "at_ms", "local", "a""b")
    )
{%- endset -%}
{%- set timestamp_columns = [
    {'name': 'at', 'dtype': 'timestamp with time zone'},
    {'name': 'at_ms', 'dtype': 'timestamp(3) with time zone'},
    {'name': 'local', 'dtype': 'timestamp without time zone'},
    {'name': 'a"b', 'dtype': 'text'},
] -%}
with

timestamps as (

    {{ pgshift_table_checksum(timestamps, timestamp_columns) }}

),

no_rows as (

    {{ pgshift_table_checksum(
        '(select 1 as x where false)', [{'name': 'x', 'dtype': 'integer'}]
    ) }}

),

no_columns as (

    {{ pgshift_table_checksum('(select from generate_series(1, 2))', []) }}

),

cases as (

    select
        'timestamps' as case_name,
        timestamps.final_rows,
        timestamps.final_checksum,
        2 as expected_rows,
        (
            select sum(hashtextextended(row_text, 0))::text
            from unnest(array[
                '("2024-01-01 10:00:00","2024-06-30 21:59:59.123",'
                || '"2024-01-01 12:00:00",it''s)',
                '(,,,)'
            ]) as row_text
        ) as expected_checksum
    from timestamps

    union all

    select
        'no rows' as case_name,
        no_rows.final_rows,
        no_rows.final_checksum,
        0 as expected_rows,
        '0' as expected_checksum
    from no_rows

    union all

    select
        'no columns' as case_name,
        no_columns.final_rows,
        no_columns.final_checksum,
        2 as expected_rows,
        (2 * hashtextextended('', 0)::numeric)::text as expected_checksum
    from no_columns

)

select * from cases
where
    final_rows is distinct from expected_rows
    or final_checksum is distinct from expected_checksum
