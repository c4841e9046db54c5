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
            {%- do statements.append(
                "do $pgshift$ declare seq text; candidate text := '"
                ~ serial.sequence ~ "'; n int := 0; begin "
                ~ "seq := pg_get_serial_sequence('" ~ relation ~ "', '"
                ~ serial.column ~ "'); "
                ~ "if seq is null then "
                ~ "while to_regclass(format('%I.%I', '" ~ node.schema
                ~ "', candidate)) is not null loop n := n + 1; "
                ~ "candidate := '" ~ serial.sequence ~ "' || n; end loop; "
                ~ "seq := format('%I.%I', '" ~ node.schema ~ "', candidate); "
                ~ "execute format('create sequence %s as " ~ serial.data_type
                ~ " owned by " ~ relation ~ ".%I', seq, '" ~ serial.column ~ "'); "
                ~ "execute format('alter table " ~ relation
                ~ " alter column %I set default nextval(%L::regclass)', '"
                ~ serial.column ~ "', seq); end if; "
                ~ "execute format('select setval(%L, coalesce(max(%I), 0) + 1, false) "
                ~ "from " ~ relation ~ "', seq, '" ~ serial.column ~ "'); "
                ~ "end $pgshift$"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
