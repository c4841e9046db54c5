{# One statement: recreate what pgshift_keep_dependents wrote down, on the
   new tables, in the publish's transaction, and record it. #}
{#- Each statement runs in the order it was written down (a view before the
    views that read it), the team's partitions first (a key or index of
    its own on one is written down before it), then the routines of other
    schemas over a replaced table's row type (a view may call one). One
    that fails (a view that reads a column the new
    table no longer has, an owner the publishing role may not assign) stops
    the publish, naming the object, why, and what to do: nothing is
    published. With the var pgshift_drop_dependents true, such an object is
    left out instead and recorded as dropped. Every object is recorded, with
    what happened to it, in the state table named by the var carried_table,
    which verify puts in the report. -#}
{% macro pgshift_restore_dependents(record) %}
    {%- set drop_allowed = var('pgshift_drop_dependents', false) -%}
    {%- set sql -%}
create table if not exists {{ record }} (
    published_at timestamptz not null default now(),
    kind text not null,
    object text not null,
    on_table text not null,
    outcome text not null,
    detail text not null default ''
);
delete from {{ record }};
{% set body -%}
declare
    dependent record;
    failure text;
    current text;
begin
    -- The partitions the team added first: the team's constraints and
    -- indexes on one are written down before it, and need it there.
    for dependent in select * from pgshift_dependents
            order by kind <> 'partition',
                     kind not in ('function', 'procedure'), ord loop
        -- A comment the new table has from the source stays; the one it
        -- replaces is recorded when it was another.
        current := null;
        if dependent.current_value is not null then
            execute dependent.current_value into current;
        end if;
        if current is not null then
            if right(dependent.statement, length(' is ' || quote_literal(current)))
                    <> ' is ' || quote_literal(current) then
                insert into {{ record }} (kind, object, on_table, outcome, detail)
                values (dependent.kind, dependent.object, dependent.on_table,
                        'replaced', 'by the source''s: ' || current);
            end if;
            continue;
        end if;
        begin
            execute dependent.statement;
            insert into {{ record }} (kind, object, on_table, outcome)
            values (dependent.kind, dependent.object, dependent.on_table,
                    'recreated');
        exception when others then
            get stacked diagnostics failure = message_text;
            {%- if drop_allowed %}
            insert into {{ record }} (kind, object, on_table, outcome, detail)
            values (dependent.kind, dependent.object, dependent.on_table,
                    'dropped', failure);
            {%- else %}
            raise exception using message = format(
                'pgshift: nothing published: the %s %s depends on %s, which '
                'this build replaces, and cannot be recreated on the new '
                'table (%s). Change or drop it yourself, or run again with '
                '--drop-dependents (dbt: --vars ''{pgshift_drop_dependents: '
                'true}'') to leave it out; the report lists what was left out',
                dependent.kind, dependent.object, dependent.on_table, failure);
            {%- endif %}
        end;
    end loop;
end
{%- endset %}
{{ pgshift_do(body) }}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
