{# SQL: a DO statement making a sequence UNLOGGED or logged, as the source's. #}
{#- ALTER SEQUENCE ... SET UNLOGGED or SET LOGGED, only where the target's
    sequence is not so already: a logged sequence on a server older than
    PostgreSQL 15, which has no unlogged sequences, is left as it is (schema
    parity then names an UNLOGGED source sequence that arrived logged).
    Arguments: SQL giving the sequence's name as text, and whether the
    source's is UNLOGGED. -#}
{% macro pgshift_sequence_persistence(sequence_sql, unlogged) %}
    {%- set wanted = 'unlogged' if unlogged else 'logged' -%}
    {%- set body -%}
        declare
            seq regclass := ({{ sequence_sql }})::regclass;
        begin
            if current_setting('server_version_num')::int >= 150000
                and (select c.relpersistence = 'u' from pg_catalog.pg_class as c
                     where c.oid = seq) <> {{ 'true' if unlogged else 'false' }}
            then
                execute format('alter sequence %s set {{ wanted }}', seq);
            end if;
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
