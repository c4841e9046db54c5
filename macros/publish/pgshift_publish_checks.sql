{# The statements that add the checks reading other tables, in the publish. #}
{#- From meta.pgshift.published_checks: a check whose condition calls one
    of the schema's routines that reads a migrated table or view (as
    `check (check_role_type(role_id, 'User'))` selects from roles) must
    read the rows of this build, which are in the final schema only once
    the publish has moved them (and the views) in: in the build it would
    read the tables published before, or none. Each is added to its moved
    table NOT VALID, then validated (unless the source never validated it:
    it stays NOT VALID, with its options), in the publish's transaction:
    rows that break it stop the publish, naming it, and nothing is
    published. Arguments: the final schema, the (final model, built
    relation) pairs of the tables this publish moves. -#}
{% macro pgshift_publish_checks(final_schema, built_tables) %}
    {%- set statements = [] -%}
    {%- for node, built in built_tables -%}
        {%- set table = pgshift_ident(final_schema, node.alias) -%}
        {%- for check in node.meta.pgshift.get('published_checks', []) -%}
            {%- set options = check.get('options', '') -%}
            {%- set validate = 'not valid' not in options -%}
            {%- set name = pgshift_ident(check.name) -%}
            {%- set body -%}
                begin
                    if {{ pgshift_constraint_missing_sql(table, check.name) }} then
                        alter table {{ table }} add constraint {{ name }}
                            check {{ check.expression }}
                            {{ (options ~ (' not valid' if validate else '')) | trim }};
                        {%- if validate %}
                        alter table {{ table }} validate constraint {{ name }};
                        {%- endif %}
                    end if;
                exception when check_violation then
                    raise exception using message = format(
                        'pgshift: nothing published: the rows of %s break '
                        'the check %s, which reads other tables: %s',
                        {{ pgshift_literal(final_schema ~ '.' ~ node.alias) }},
                        {{ pgshift_literal(check.name) }}, sqlerrm);
                end
            {%- endset -%}
            {%- do statements.append(pgshift_do(body | trim)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
{% endmacro %}
