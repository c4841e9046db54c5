{# The statements that create a table's secondary indexes. #}
{#- From meta.pgshift.indexes: the source's names, and what follows USING
    in the source's definition with the columns renamed (SQL, pasted as it
    is). Duplicates leave a unique index out. An index `only` (invalid on
    the source: made ON ONLY the partitioned table, not on every
    partition) is made ON ONLY the table too, then on each partition of
    its `attached` alone and attached to the index it was attached to on
    the source, each after that one: it ends invalid as on the source, and
    the partitions the application left without it stay so. -#}
{% macro pgshift_ensure_indexes(relation, node) %}
    {%- set statements = [] -%}
    {%- for index in node.meta.pgshift.get('indexes', []) -%}
        {%- set unique = 'unique ' if index.unique else '' -%}
        {%- set only = 'only ' if index.get('only') else '' -%}
        {%- set body -%}
            begin
                create {{ unique }}index if not exists
                    {{ pgshift_ident(index.name) }}
                    on {{ only }}{{ relation }} using {{ index.using }};
                {%- for attached in index.get('attached', []) %}
                create {{ unique }}index if not exists
                    {{ pgshift_ident(attached.name) }}
                    on only {{ pgshift_ident(relation.schema, attached.partition) }}
                    using {{ index.using }};
                alter index {{ pgshift_ident(relation.schema, attached.to) }}
                    attach partition
                    {{ pgshift_ident(relation.schema, attached.name) }};
                {%- endfor %}
            exception when unique_violation then null;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
