{# The statements moving the views this run built into the final schema. #}
{#- Part of the publish's one transaction, once the tables they read are
    in the final schema: each view or materialized view of the build
    schema (which reads those tables by OID) is moved with `alter ... set
    schema`. A view of that name pgshift built earlier that is still there
    (one that reads none of the replaced tables) is dropped first; a
    relation of that name that pgshift did not build stops the publish. -#}
{% macro pgshift_publish_views(final_schema, build_schema) %}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('built_table')) -%}
    {%- set statements = [] -%}
    {%- for node, built in pgshift_built_views() -%}
        {%- set kind = pgshift_source_views()[node.alias].kind -%}
        {%- set body -%}
declare
    name text := {{ pgshift_literal(node.alias) }};
    final_schema text := {{ pgshift_literal(final_schema) }};
    found_kind "char";
    ours boolean := false;
begin
    select c.relkind into found_kind from pg_class as c
    where c.oid = to_regclass(format('%I.%I', final_schema, name));
    if found_kind is not null then
        if to_regclass({{ pgshift_literal(registry) }}) is not null then
            execute format('select exists (select 1 from %s where table_name = $1)',
                           {{ pgshift_literal(registry) }})
            into ours using name;
        end if;
        if not ours or found_kind not in ('v', 'm') then
            raise exception using message = format(
                'pgshift: %I.%I is not a view pgshift built; rename or drop it '
                'before migrating (nothing was published)', final_schema, name);
        end if;
        execute format('drop %s %I.%I cascade',
                       case found_kind when 'v' then 'view'
                            else 'materialized view' end,
                       final_schema, name);
    end if;
    execute format('alter %s %I.%I set schema %I',
                   {{ pgshift_literal(kind) }},
                   {{ pgshift_literal(build_schema) }}, name, final_schema);
end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body)) -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
{% endmacro %}
