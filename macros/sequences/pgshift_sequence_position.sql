{# SQL: a PL/pgSQL body that sets a sequence where the source's stands. #}
{#- The source's last_value and is_called, as the load found them (in the
    state table named by the var sequences_table), are set on the target's
    sequence; then, if a column that draws from it already holds a value at
    or past that position (rows the application inserted with ids of their
    own, or a source role that could not read the sequence), the sequence
    is set past that value, so that nextval() never hands out a value a
    row holds. An ascending sequence looks at the columns' max, a
    descending one at their min. A value in the last thousandth of the
    sequence's range (a sentinel row with the type's largest id, or one
    just short of it) is no position to move to: the sequence would be
    used up at once, where the source's still hands out the values below
    it; the values short of that end are those the sequence moves past.
    Cutover applies the same rule when it sets the sequences again
    (sync.cutover.position_past_rows), and verify checks it
    (verify.reconcile._sequences).
    Arguments: SQL giving the sequence's name as text, its source name,
    its increment and start, and the (quoted table, column name) pairs of
    the columns that draw from it. -#}
{% macro pgshift_sequence_position(
    sequence_sql, source, increment, start, drawn
) %}
    {%- set state = pgshift_ident(
        var('state_schema'), var('sequences_table')) -%}
    {%- set ascending = (increment | int) > 0 -%}
    {%- set parts = [] -%}
    {%- for table, column in drawn -%}
        {%- do parts.append(
            "select " ~ ("max" if ascending else "min") ~ "("
            ~ pgshift_ident(column) ~ ")::bigint as v from " ~ table
            ~ " where " ~ pgshift_ident(column)
            ~ (" < " if ascending else " > ") ~ "pgshift_end") -%}
    {%- endfor -%}
    {%- set body -%}
        declare
            seq text := {{ sequence_sql }};
            last bigint;
            called boolean;
            reached bigint;
            pgshift_end bigint;
        begin
            select {{ "s.seqmax - (s.seqmax::numeric - s.seqstart) / 1000"
                      if ascending
                      else "s.seqmin + (s.seqstart::numeric - s.seqmin) / 1000" }}
            into pgshift_end
            from pg_catalog.pg_sequence as s
            where s.seqrelid = seq::regclass;
            if to_regclass({{ pgshift_literal(state) }}) is not null then
                execute format(
                    'select last_value, is_called from %s'
                    ' where sequence_name = $1',
                    {{ pgshift_literal(state) }}
                ) into last, called using {{ pgshift_literal(source) }};
            end if;
            {%- if parts %}
            select {{ "max" if ascending else "min" }}(v) into reached from (
                {{ parts | join(' union all ') }}
            ) as drawn;
            {%- endif %}
            if last is not null then
                perform setval(seq, last, called);
            else
                perform setval(seq, {{ start | int }}, false);
            end if;
            if reached is not null and (
                {%- if ascending %}
                reached > coalesce(last, {{ start | int }} - 1)
                or (reached = last and not called)
                {%- else %}
                reached < coalesce(last, {{ start | int }} + 1)
                or (reached = last and not called)
                {%- endif %}
            ) then
                perform setval(seq, reached, true);
            end if;
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
