{# The statements that give a table's serial columns their sequences. #}
{#- A serial column is a plain integer column in the contract. Once the
    rows are in, each column in meta.pgshift.serials gets, unless it owns
    one already, a sequence named as listed (or, if that name is taken, the
    first free one with a number appended), owned by the column and made
    its default, with the source sequence's type, increment, bounds,
    start, cache and cycle, UNLOGGED where the source's is
    (pgshift_sequence_persistence); then the sequence is set where the
    source's stands, and past max(column) (pgshift_sequence_position). A taken name
    is a relation in the schema or a name that pgshift_reserved_names keeps
    for a relation of this build. The
    sequence moves with the table when it is published (ALTER TABLE SET
    SCHEMA moves owned sequences). -#}
{% macro pgshift_ensure_serials(relation, node) %}
    {%- set statements = [] -%}
    {%- for serial in node.meta.pgshift.get('serials', []) -%}
        {%- set taken = [] -%}
        {%- for name in pgshift_reserved_names(
                node, serial.column, serial.sequence) -%}
            {%- do taken.append(pgshift_literal(name)) -%}
        {%- endfor -%}
        {%- set table = pgshift_literal(relation) -%}
        {%- set column = pgshift_literal(serial.column) -%}
        {%- set wanted = pgshift_literal(serial.sequence) -%}
        {%- set schema = pgshift_literal(relation.schema) -%}
        {%- set body -%}
            declare
                seq text := pg_get_serial_sequence({{ table }}, {{ column }});
                candidate text := {{ wanted }};
                n int := 0;
            begin
                if seq is null then
                    while to_regclass(format('%I.%I', {{ schema }}, candidate))
                        is not null
                        {%- if taken %}
                        or candidate = any(array[{{ taken | join(', ') }}])
                        {%- endif %}
                    loop
                        n := n + 1;
                        candidate := {{ wanted }} || n;
                    end loop;
                    seq := format('%I.%I', {{ schema }}, candidate);
                    execute format(
                        'create sequence %s %s owned by %s.%I',
                        seq, {{ pgshift_literal(pgshift_sequence_options(serial)) }},
                        {{ table }}, {{ column }}
                    );
                    execute format(
                        'alter table %s alter column %I'
                        ' set default nextval(%L::regclass)',
                        {{ table }}, {{ column }}, seq
                    );
                end if;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
        {%- if serial.get('unlogged') -%}
            {%- do statements.append(pgshift_sequence_persistence(
                "pg_get_serial_sequence(" ~ table ~ ", " ~ column ~ ")",
                true)) -%}
        {%- endif -%}
        {%- do statements.append(pgshift_sequence_position(
            "pg_get_serial_sequence(" ~ table ~ ", " ~ column ~ ")",
            serial.source, serial.increment, serial.start,
            [(relation, serial.column)])) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
