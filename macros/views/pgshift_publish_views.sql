{# The statements moving the views this run built into the final schema. #}
{#- Part of the publish's one transaction, once the tables they read are
    in the final schema: each view or materialized view of the build
    schema (which reads those tables by OID) is moved with `alter ... set
    schema`. A deferred view (it calls the source's functions, which
    pgshift_publish_routines has created by now, or reads such a view) is
    created in the final schema from its model's SQL, in the source's
    order, its names resolved in the final schema. A view of that name
    pgshift built earlier that is still there (one that reads none of the
    replaced tables) is dropped first; a relation of that name that pgshift
    did not build stops the publish. -#}
{% macro pgshift_publish_views(final_schema, build_schema) %}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('built_table')) -%}
    {%- set statements = [] -%}
    {%- set specs = pgshift_source_views() -%}
    {%- set moved = [] -%}
    {%- set deferred = {} -%}
    {%- for node, built in pgshift_built_views() -%}
        {%- if built is none -%}
            {%- do deferred.update({node.alias: node}) -%}
        {%- else -%}
            {%- do moved.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- Deferred views in the source's creation order: views on views last. -#}
    {%- set ordered = [] -%}
    {%- for node in moved -%}
        {%- do ordered.append((node, false)) -%}
    {%- endfor -%}
    {%- for name, spec in specs.items() | sort(attribute='1.order')
            if name in deferred -%}
        {%- do ordered.append((deferred[name], true)) -%}
    {%- endfor -%}
    {%- set path = [
        pgshift_ident(final_schema), pgshift_ident(target.schema)] -%}
    {%- for node, created_here in ordered -%}
        {%- set spec = specs[node.alias] -%}
        {%- set kind = spec.kind -%}
        {%- set body -%}
declare
    name text := {{ pgshift_literal(node.alias) }};
    final_schema text := {{ pgshift_literal(final_schema) }};
    found_kind "char";
    ours boolean := false;
    previous_path text := current_setting('search_path');
begin
    select c.relkind into found_kind from pg_class as c
    where c.oid = to_regclass(format('%I.%I', final_schema, name));
    if found_kind is not null then
        if to_regclass({{ pgshift_literal(registry) }}) is not null then
            execute format('select exists (select 1 from %s as r '
                           'where table_name = $1 '
                           'and to_jsonb(r) ->> %L = $2)',
                           {{ pgshift_literal(registry) }}, 'final_schema')
            into ours using name, final_schema;
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
    {%- if not created_here %}
    execute format('alter %s %I.%I set schema %I',
                   {{ pgshift_literal(kind) }},
                   {{ pgshift_literal(build_schema) }}, name, final_schema);
    {%- else %}
    -- Created here, once the routines it calls are in the final schema.
    perform set_config('search_path', {{ pgshift_literal(path | join(', ')) }}, true);
    execute {{ pgshift_literal(pgshift_view_statements(
        spec,
        api.Relation.create(database=target.database, schema=final_schema,
                            identifier=node.alias, type='view'),
        node.compiled_code)) }};
    perform set_config('search_path', previous_path, true);
    {%- endif %}
end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body)) -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
{% endmacro %}
