{# Create the source's enum types in the target schema, labels in order. #}
{#- One DO statement per type. A type of that name that is not there is
    created; an enum of that name (a migration before this one) gets the
    labels the source gained since, each where the source has it
    (ADD VALUE ... BEFORE or AFTER its neighbour). Labels the target's type
    has and the source's has not, or has in another order, stop the run:
    PostgreSQL can neither drop nor reorder an enum's labels. Any other type
    of that name is left alone (schema parity names it).

    The hook's statements are one query, so its own transaction: the
    labels are committed before the hooks after it (a domain's check) and
    the models cast to them, as PostgreSQL requires of a label a
    transaction added (12 or later; before 12, ADD VALUE runs in no
    function). The types are pgshift_source_enums(), written by scaffold. -#}
{% macro pgshift_create_enum_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for name, labels in pgshift_source_enums().items() -%}
        {%- set type = pgshift_ident(target.schema, name) -%}
        {%- set quoted = [] -%}
        {%- for label in labels -%}
            {%- do quoted.append(pgshift_literal(label)) -%}
        {%- endfor -%}
        {%- set body -%}
            declare
                source text[] := array[{{ quoted | join(", ") }}]::text[];
                target text[];
                label text;
                at int := 1;
            begin
                if to_regtype({{ pgshift_literal(type) }}) is null then
                    create type {{ type }} as enum ({{ quoted | join(", ") }});
                    return;
                end if;
                if not exists (
                    select from pg_type
                    where oid = {{ pgshift_literal(type) }}::regtype
                      and typtype = 'e'
                ) then
                    return;
                end if;
                target := array(
                    select e.enumlabel::text from pg_enum e
                    where e.enumtypid = {{ pgshift_literal(type) }}::regtype
                    order by e.enumsortorder);
                -- The target's labels must be the source's, in its order,
                -- with some left out: those are the ones to add.
                foreach label in array target loop
                    while at <= cardinality(source)
                          and source[at] <> label loop
                        at := at + 1;
                    end loop;
                    if at > cardinality(source) then
                        raise exception using message = format(
                            'pgshift: enum type %s on the target has labels '
                            '%s, the source''s are %s (%s). PostgreSQL can '
                            'neither drop nor reorder an enum''s labels: '
                            'change the target''s type as the source''s was '
                            'changed (ALTER TYPE ... RENAME VALUE, or a new '
                            'type and ALTER TABLE ... ALTER COLUMN ... TYPE), '
                            'or drop it (DROP TYPE ... CASCADE also drops what '
                            'uses it), then migrate again',
                            {{ pgshift_literal(type) }},
                            array_to_string(array(
                                select quote_literal(l) from unnest(target) l
                            ), ', '),
                            array_to_string(array(
                                select quote_literal(l) from unnest(source) l
                            ), ', '),
                            coalesce('the source lacks ' || nullif(
                                array_to_string(array(
                                    select quote_literal(l)
                                    from unnest(target) l
                                    where l <> all (source)
                                ), ', '), ''),
                                'in another order'));
                    end if;
                    at := at + 1;
                end loop;
                for i in 1 .. cardinality(source) loop
                    continue when source[i] = any (target);
                    execute format(
                        'alter type %s add value if not exists %L',
                        {{ pgshift_literal(type) }}, source[i])
                        || case
                            when i > 1 then format(' after %L', source[i - 1])
                            when cardinality(target) > 0
                                then format(' before %L', target[1])
                            else '' end;
                end loop;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
