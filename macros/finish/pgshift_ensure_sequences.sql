{# Give serial columns their owned sequence and default, set past max. #}
{#- A serial column is a plain integer column in the contract. Once the
    table is built in the build schema, create there the sequence listed in
    meta.pgshift.serials (or the next free name), own it by the column, make
    it the column's default and set it so the next insert gets
    max(column) + 1. The sequence moves with the table when it is published. -#}
{% macro pgshift_ensure_sequences() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node, relation in pgshift_built_tables() -%}
    {%- for serial in node.meta.pgshift.get('serials', []) -%}
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
                    loop
                        n := n + 1;
                        candidate := {{ wanted }} || n;
                    end loop;
                    seq := format('%I.%I', {{ schema }}, candidate);
                    execute format(
                        'create sequence %s as %s owned by %s.%I',
                        seq, {{ pgshift_literal(serial.data_type) }},
                        {{ table }}, {{ column }}
                    );
                    execute format(
                        'alter table %s alter column %I'
                        ' set default nextval(%L::regclass)',
                        {{ table }}, {{ column }}, seq
                    );
                end if;
                execute format(
                    'select setval(%L, coalesce(max(%I), 0) + 1, false)'
                    ' from %s',
                    seq, {{ column }}, {{ table }}
                );
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
