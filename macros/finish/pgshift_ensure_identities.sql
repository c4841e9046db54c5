{# The statements that finish a table's identity columns. #}
{#- The contract declares every identity column BY DEFAULT, so that the
    insert keeps the existing ids; then its sequence takes the source's
    options (meta identities[].options) and is set where the source's
    sequence stood (meta identities[].sequence, its position recorded by
    the load), never below max(column) (pgshift_sequence_position; without
    a recorded position, the next insert gets max(column) plus the
    increment, or the start on an empty table), and an ALWAYS identity
    becomes ALWAYS. The sequence PostgreSQL made takes the name the map
    gives the source's (meta identities[].sequence_name: a Django table
    renamed after its identity was made keeps `<old table>_id_seq`), or,
    without one, the name PostgreSQL gives an identity's sequence,
    `<table>_<column>_seq`; unless that name is taken or too long. The
    sequence is UNLOGGED when its table is; one the source set otherwise
    (meta identities[].unlogged) is set so (pgshift_sequence_persistence).
    -#}
{% macro pgshift_ensure_identities(relation, node) %}
    {%- set statements = [] -%}
    {%- for identity in node.meta.pgshift.get('identities', []) -%}
        {%- set column = pgshift_ident(identity.column) -%}
        {%- set options = identity.get('options', []) -%}
        {%- set last = 'max' -%}
        {%- if options -%}
            {#- The source sequence's increment, bounds, start, cache and
                cycle, restarted at its start so that the new bounds hold. -#}
            {%- set restart = [] -%}
            {%- for option in options if option.startswith('start with ') -%}
                {%- do restart.append(
                    option | replace('start', 'restart', 1)) -%}
            {%- endfor -%}
            {%- do statements.append(
                "alter table " ~ relation ~ " alter column " ~ column ~ " set "
                ~ (options | join(' set ')) ~ " " ~ (restart | join(' '))) -%}
            {%- if options[0].startswith('increment by -') -%}
                {%- set last = 'min' -%}
            {%- endif -%}
        {%- endif -%}
        {%- if identity.get('sequence') -%}
            {#- Where the source's sequence stands (the load recorded it),
                and past the rows: as a serial's sequence. -#}
            {%- set found = namespace(increment=1, start=none) -%}
            {%- for option in options -%}
                {%- if option.startswith('increment by ') -%}
                    {%- set found.increment = option[13:] | int -%}
                {%- elif option.startswith('start with ') -%}
                    {%- set found.start = option[11:] | int -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set start = found.start if found.start is not none
                else (1 if found.increment > 0 else -1) -%}
            {%- do statements.append(pgshift_sequence_position(
                "pg_get_serial_sequence(" ~ pgshift_literal(relation) ~ ", "
                    ~ pgshift_literal(identity.column) ~ ")",
                identity.sequence, found.increment, start,
                [(relation, identity.column)])) -%}
        {%- else -%}
        {#- The next value follows the rows: max (min for a descending
            identity) plus the increment, or the start on an empty table. -#}
        {%- set setval -%}
            select case when {{ last }}({{ column }}) is not null
                   then setval(
                       pg_get_serial_sequence(
                           {{ pgshift_literal(relation) }},
                           {{ pgshift_literal(identity.column) }}
                       ),
                       {{ last }}({{ column }}),
                       true
                   ) end
            from {{ relation }}
        {%- endset -%}
        {%- do statements.append(setval | trim) -%}
        {%- endif -%}
        {%- set body -%}
            declare
                seq text := pg_get_serial_sequence(
                    {{ pgshift_literal(relation) }},
                    {{ pgshift_literal(identity.column) }}
                );
                wanted text := {{ pgshift_literal(identity.get(
                    'sequence_name',
                    node.alias ~ '_' ~ identity.column ~ '_seq')) }};
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
        {%- if identity.get('unlogged') is not none -%}
            {%- do statements.append(pgshift_sequence_persistence(
                "pg_get_serial_sequence(" ~ pgshift_literal(relation) ~ ", "
                    ~ pgshift_literal(identity.column) ~ ")",
                identity.unlogged)) -%}
        {%- endif -%}
        {%- if identity.always -%}
            {%- do statements.append(
                "alter table " ~ relation ~ " alter column " ~ column
                ~ " set generated always"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
