{# Names the project gives relations in the build schema, for a free name. #}
{#- Every final table, key and index, and the sequence of each serial
    column listed before the given one (final models in graph order, then
    their serials in order), that start with the given prefix. A serial
    column's post-hook picks its sequence's name while other build threads
    are still creating their tables, keys and indexes, which it cannot see
    until they commit; these names count as taken instead. Two serials
    declaring one name: the first keeps it.
    Every serial column of every table asks, so the names are gathered
    once a run and kept in the graph (as pgshift_final_models is), joined
    by NUL, which no PostgreSQL name holds, and searched with one regular
    expression per call: a Jinja loop over every name per serial cost
    seconds at a few hundred tables, and grew with their square. -#}
{% macro pgshift_reserved_names(node, column, prefix) -%}
    {%- set kept = graph.get('pgshift_reserved_names') if execute else none -%}
    {%- if kept is none -%}
        {%- set names = [] -%}
        {%- set sequences = [] -%}
        {%- set positions = {} -%}
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
                {%- set at = other.unique_id ~ '\x00' ~ serial.column -%}
                {%- if at not in positions -%}
                    {%- do positions.update({at: sequences | length}) -%}
                {%- endif -%}
                {%- do sequences.append(serial.sequence) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- set kept = {
            'names': '\x00' ~ (names | join('\x00')),
            'sequences': sequences,
            'positions': positions,
        } -%}
        {%- if execute -%}
            {%- do graph.update({'pgshift_reserved_names': kept}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set before = kept.sequences[
        :kept.positions.get(node.unique_id ~ '\x00' ~ column, 0)] -%}
    {%- set pattern = '\x00(' ~ modules.re.escape(prefix) ~ '[^\x00]*)' -%}
    {{ return(
        modules.re.findall(pattern, kept.names)
        + modules.re.findall(pattern, '\x00' ~ (before | join('\x00')))
    ) }}
{%- endmacro %}
