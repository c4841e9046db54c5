{# The statements that finish a table's identity columns. #}
{#- The contract declares every identity column BY DEFAULT, so that the
    insert keeps the existing ids; then its sequence is set so the next
    insert gets max(column) + 1, and an ALWAYS identity becomes ALWAYS. A
    sequence PostgreSQL named otherwise (after the table it was created
    with, or `_seq1` when the name was taken) is renamed as PostgreSQL
    names an identity's sequence, `<table>_<column>_seq`, unless that name
    is taken or too long. -#}
{% macro pgshift_ensure_identities(relation, node) %}
    {%- set statements = [] -%}
    {%- for identity in node.meta.pgshift.get('identities', []) -%}
        {%- set column = pgshift_ident(identity.column) -%}
        {%- set setval -%}
            select setval(
                pg_get_serial_sequence(
                    {{ pgshift_literal(relation) }},
                    {{ pgshift_literal(identity.column) }}
                ),
                coalesce(max({{ column }}), 0) + 1,
                false
            )
            from {{ relation }}
        {%- endset -%}
        {%- do statements.append(setval | trim) -%}
        {%- set body -%}
            declare
                seq text := pg_get_serial_sequence(
                    {{ pgshift_literal(relation) }},
                    {{ pgshift_literal(identity.column) }}
                );
                wanted text := {{ pgshift_literal(
                    node.alias ~ '_' ~ identity.column ~ '_seq') }};
                qualified text := format(
                    '%I.%I', {{ pgshift_literal(relation.schema) }}, wanted
                );
            begin
                if octet_length(wanted) <= 63 and seq <> qualified
                        and to_regclass(qualified) is null then
                    execute format('alter sequence %s rename to %I', seq, wanted);
                end if;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
        {%- if identity.always -%}
            {%- do statements.append(
                "alter table " ~ relation ~ " alter column " ~ column
                ~ " set generated always"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
