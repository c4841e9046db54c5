{# One statement: create the source's functions, procedures, aggregates and
   triggers on the final tables, in the publish's transaction. #}
{#- Runs once the new tables are in the final schema and before the target's
    own objects are recreated on them (a view of the team's may call a
    function). check_function_bodies is off while the routines are created,
    as pg_dump's restores have it, so a SQL function may read a view created
    after it. Each routine is created with CREATE OR REPLACE and recorded as
    pgshift's in the state table named by the var routines_table: a second
    publish replaces it; a routine of that signature that pgshift did not
    create stops the publish, naming it. A routine pgshift created earlier
    in this final schema that the source no longer has is dropped (another
    final schema's, which a run of another source schema published, stays
    that run's). Triggers are created on the
    tables this publish replaced (the drop took the old ones, and
    pgshift_keep_dependents does not keep pgshift's own), with their enabled
    state, and recorded. Anything failing stops the publish: nothing is
    published. Arguments: the final schema, the final tables this publish
    replaces. -#}
{% macro pgshift_publish_routines(final_schema, replaced) %}
    {%- set schema = pgshift_ident(final_schema) -%}
    {%- set routines = pgshift_source_routines(schema) -%}
    {%- set triggers = pgshift_source_triggers(schema) -%}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('routines_table', 'built_routines')) -%}
    {%- set replaced_literals = [] -%}
    {%- for table in replaced -%}
        {%- do replaced_literals.append(pgshift_literal(table)) -%}
    {%- endfor -%}
    {%- set signatures = [] -%}
    {%- for routine in routines -%}
        {%- do signatures.append(pgshift_literal(routine.signature)) -%}
    {%- endfor -%}
    {%- set sql -%}
{{ pgshift_routines_registry(registry) }};
{% set body -%}
declare
    previous text := current_setting('check_function_bodies');
    failure text;
    present boolean;
    stale record;
begin
    perform set_config('check_function_bodies', 'off', true);
{{ pgshift_create_routines(routines, registry) }}

    -- Routines pgshift created that the source no longer has.
    for stale in
        select kind, name from {{ registry }} as r
        where kind in ('function', 'procedure', 'aggregate', 'operator', 'cast')
          and {{ pgshift_registered_here('r') }}
          and not name = any(array[{{ signatures | join(', ') }}]::text[])
    loop
        execute format('drop %s if exists %s', stale.kind, stale.name);
        delete from {{ registry }} as r
        where kind = stale.kind and name = stale.name
          and {{ pgshift_registered_here('r') }};
    end loop;

    -- The replaced tables' triggers went with them.
    delete from {{ registry }} as r
    where kind = 'trigger' and {{ pgshift_registered_here('r') }}
      and on_table = any(array[{{ replaced_literals | join(', ') }}]::text[]);
    {%- for trigger in triggers if trigger.table in replaced %}

    begin
        execute {{ pgshift_literal(trigger.sql) }};
        {%- if trigger.state %}
        execute {{ pgshift_literal(
            'alter table ' ~ schema ~ '.' ~ pgshift_ident(trigger.table) ~ ' '
            ~ trigger.state ~ ' ' ~ pgshift_ident(trigger.name)) }};
        {%- endif %}
    exception when others then
        get stacked diagnostics failure = message_text;
        raise exception using message = format(
            'pgshift: nothing published: the trigger %s on %s could not be '
            'created on the target: %s',
            {{ pgshift_literal(trigger.name) }},
            {{ pgshift_literal(final_schema ~ '.' ~ trigger.table) }}, failure);
    end;
    insert into {{ registry }} (final_schema, kind, name, on_table)
    values ({{ pgshift_literal(final_schema) }}, 'trigger',
            {{ pgshift_literal(trigger.name) }},
            {{ pgshift_literal(trigger.table) }})
    on conflict (final_schema, kind, name, on_table)
    do update set built_at = now();
    {%- endfor %}
    perform set_config('check_function_bodies', previous, true);
end
{%- endset %}
{{ pgshift_do(body) }}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
