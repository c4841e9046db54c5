{# The statements that finish a table's identity columns. #}
{#- The contract declares every identity column BY DEFAULT, so that the
    insert keeps the existing ids; then its sequence is set so the next
    insert gets max(column) + 1, and an ALWAYS identity becomes ALWAYS. -#}
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
        {%- if identity.always -%}
            {%- do statements.append(
                "alter table " ~ relation ~ " alter column " ~ column
                ~ " set generated always"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
