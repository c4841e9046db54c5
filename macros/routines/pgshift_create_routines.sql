{# PL/pgSQL statements: create routines, and the extensions they need. #}
{#- For the body of a DO block that declares `failure text` and has
    check_function_bodies off. Each routine is created with CREATE OR
    REPLACE and recorded in the registry; a routine of that signature that
    pgshift did not create (not in the registry) stops the run, naming it,
    and so does one PostgreSQL refuses. Arguments: the routines
    (pgshift_source_routines), the registry table, quoted. -#}
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

    if to_regprocedure({{ pgshift_literal(routine.signature) }}) is not null
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
        execute {{ pgshift_literal(routine.sql) }};
    exception when others then
        get stacked diagnostics failure = message_text;
        raise exception using message = format(
            'pgshift: nothing published: the %s %s could not be created on '
            'the target: %s',
            {{ pgshift_literal(routine.kind) }},
            {{ pgshift_literal(routine.signature) }}, failure);
    end;
    insert into {{ registry }} (kind, name)
    values ({{ pgshift_literal(routine.kind) }},
            {{ pgshift_literal(routine.signature) }})
    on conflict (kind, name, on_table) do update set built_at = now();
    {%- endfor %}
{%- endmacro %}
