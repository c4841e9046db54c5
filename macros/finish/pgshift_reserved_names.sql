{# Names the project gives relations in the build schema, for a free name. #}
{#- Every final table, key and index, and the sequence of each serial
    column listed before the given one (final models in graph order, then
    their serials in order). A serial column's post-hook picks its
    sequence's name while other build threads are still creating their
    tables, keys and indexes, which it cannot see until they commit; these
    names count as taken instead. Two serials declaring one name: the first
    keeps it. -#}
{% macro pgshift_reserved_names(node, column) -%}
    {%- set names = [] -%}
    {%- set state = namespace(before=true) -%}
    {%- for other in pgshift_final_models() -%}
        {%- set meta = other.meta.pgshift -%}
        {%- do names.append(other.alias) -%}
        {%- for key in meta.get('keys', []) -%}
            {%- do names.append(key.name) -%}
        {%- endfor -%}
        {%- for index in meta.get('indexes', []) -%}
            {%- do names.append(index.name) -%}
        {%- endfor -%}
        {%- for serial in meta.get('serials', []) -%}
            {%- if other.unique_id == node.unique_id
                    and serial.column == column -%}
                {%- set state.before = false -%}
            {%- elif state.before -%}
                {%- do names.append(serial.sequence) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
