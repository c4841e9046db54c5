{# PL/pgSQL statements: create routines, and the extensions they need. #}
{#- For the body of a DO block that declares `failure text` and
    `present boolean`, and has check_function_bodies off. Each routine is
    created with CREATE OR REPLACE (an operator or a cast, which have no OR
    REPLACE, is created unless an earlier run created it: its function is
    replaced in place) and recorded in the registry; a routine of that
    signature that pgshift did not create (not in the registry) stops the
    run, naming it, and so does one PostgreSQL refuses. Arguments: the
    routines (pgshift_source_routines), the registry table, quoted. -#}
{% macro pgshift_create_routines(routines, registry) -%}
    {%- set extensions = [] -%}
    {%- for routine in routines -%}
        {%- for extension in routine.extensions
                if extension not in extensions -%}
            {%- do extensions.append(extension) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for extension in extensions %}
    {%- if extension.schema != 'public' %}
    execute {{ pgshift_literal(
        'create schema if not exists ' ~ pgshift_ident(extension.schema)) }};
    {%- endif %}
    execute {{ pgshift_literal(
        'create extension if not exists ' ~ pgshift_ident(extension.name)
        ~ ' schema ' ~ pgshift_ident(extension.schema)) }};
    {%- endfor %}
    {%- for routine in routines %}
    {#- An operator another one names as its commutator or negator may
        be there as a shell (no function) until it is created. -#}
    {%- if routine.kind == 'operator' %}
        {%- set present = "exists (select 1 from pg_operator where oid = "
            ~ "to_regoperator(" ~ pgshift_literal(routine.signature)
            ~ ") and oprcode::oid <> 0)" %}
    {%- elif routine.kind == 'cast' %}
        {#- (source type AS target type) -#}
        {%- set pair = routine.signature[1:-1].split(' AS ') %}
        {%- set present = "exists (select 1 from pg_cast where castsource = "
            ~ "to_regtype(" ~ pgshift_literal(pair[0]) ~ ") and casttarget = "
            ~ "to_regtype(" ~ pgshift_literal(pair[1]) ~ "))" %}
    {%- else %}
        {#- An aggregate of no arguments prints as name(*), reads as name(). -#}
        {%- set present = "to_regprocedure("
            ~ pgshift_literal(routine.signature | replace('(*)', '()'))
            ~ ") is not null" %}
    {%- endif %}

    {#- On PostgreSQL 15 and older, to_regprocedure (and to_regoperator)
        raise, rather than give NULL, for an argument type the target does
        not have (yet): a table's row type before the tables are built. #}
    begin
        present := {{ present }};
    exception when undefined_object or invalid_schema_name then
        present := false;
    end;
    if present
            and not exists (
                select 1 from {{ registry }}
                where kind = {{ pgshift_literal(routine.kind) }}
                  and name = {{ pgshift_literal(routine.signature) }}) then
        raise exception using message = {{ pgshift_literal(
            'pgshift: nothing published: the target already has the '
            ~ routine.kind ~ ' ' ~ routine.signature ~ ', which pgshift did '
            ~ 'not create. Drop or rename it, or migrate into another schema') }};
    end if;
    begin
        {%- if routine.kind in ('operator', 'cast') %}
        if not present then
            execute {{ pgshift_literal(routine.sql) }};
        end if;
        {%- else %}
        execute {{ pgshift_literal(routine.sql) }};
        {%- endif %}
    exception when others then
        get stacked diagnostics failure = message_text;
        raise exception using message = format(
            'pgshift: nothing published: the %s %s could not be created on '
            'the target: %s',
            {{ pgshift_literal(routine.kind) }},
            {{ pgshift_literal(routine.signature) }}, failure);
    end;
    insert into {{ registry }} (final_schema, kind, name)
    values ({{ pgshift_literal(pgshift_final_schema()) }},
            {{ pgshift_literal(routine.kind) }},
            {{ pgshift_literal(routine.signature) }})
    on conflict (final_schema, kind, name, on_table)
    do update set built_at = now();
    {%- endfor %}
{%- endmacro %}
