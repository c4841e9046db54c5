{# The statements that create a table's secondary indexes. #}
{#- From meta.pgshift.indexes: the source's names, and what follows USING
    in the source's definition with the columns renamed (SQL, pasted as it
    is). Duplicates leave a unique index out. -#}
{% macro pgshift_ensure_indexes(relation, node) %}
    {%- set statements = [] -%}
    {%- for index in node.meta.pgshift.get('indexes', []) -%}
        {%- set body -%}
            begin
                create {{ 'unique ' if index.unique }}index if not exists
                    {{ pgshift_ident(index.name) }}
                    on {{ relation }} using {{ index.using }};
            exception when unique_violation then null;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
