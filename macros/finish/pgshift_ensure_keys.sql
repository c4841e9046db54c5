{# The statements that add a table's keys and exclusion constraints. #}
{#- From meta.pgshift.keys: the source's names and definitions, columns
    renamed (a definition is SQL, pasted as it is). A key already there is
    kept; duplicates or NULLs leave it out, and the uniqueness tests then
    name the rows. Rows that break an exclusion constraint fail the model,
    PostgreSQL's message naming them. -#}
{% macro pgshift_ensure_keys(relation, node) %}
    {%- set statements = [] -%}
    {%- for key in node.meta.pgshift.get('keys', []) -%}
        {%- set body -%}
            begin
                if {{ pgshift_constraint_missing_sql(relation, key.name) }} then
                    alter table {{ relation }}
                        add constraint {{ pgshift_ident(key.name) }}
                        {{ key.definition }};
                end if;
            exception when unique_violation or not_null_violation then null;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
