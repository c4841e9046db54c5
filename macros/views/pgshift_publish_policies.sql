{# Statements giving the published tables the source's row-level security. #}
{#- For each table this publish moved in: ENABLE and FORCE ROW LEVEL
    SECURITY as on the source, and every policy (command, permissive or
    restrictive, roles, USING and WITH CHECK renamed by PostgreSQL,
    loader/pgshift/shadow.py). A role the target does not have is left out
    of the policy's roles (no one is that role there); a policy none of
    whose roles exist is not created. verify lists both. Runs after the
    move, so the dbt tests read the built tables as the owner did. -#}
{% macro pgshift_publish_policies(final_schema, built_tables) %}
    {%- set source = pgshift_source_policies() -%}
    {%- set statements = [] -%}
    {%- for node, built in built_tables -%}
        {%- set table = pgshift_ident(final_schema, node.alias) -%}
        {%- set state = source.row_security.get(node.alias, [false, false]) -%}
        {%- if state[0] -%}
            {%- do statements.append(
                "alter table " ~ table ~ " enable row level security") -%}
        {%- endif -%}
        {%- if state[1] -%}
            {%- do statements.append(
                "alter table " ~ table ~ " force row level security") -%}
        {%- endif -%}
        {%- for policy in source.policies if policy.table == node.alias -%}
            {%- set roles = [] -%}
            {%- for role in policy.roles -%}
                {%- do roles.append(pgshift_literal(role)) -%}
            {%- endfor -%}
            {%- set clauses = [] -%}
            {%- if policy.using is not none -%}
                {%- do clauses.append(
                    " using (" ~ policy.using ~ ")") -%}
            {%- endif -%}
            {%- if policy.with_check is not none -%}
                {%- do clauses.append(
                    " with check (" ~ policy.with_check ~ ")") -%}
            {%- endif -%}
            {%- set body -%}
declare
    roles text;
begin
    select string_agg(case when r = 'public' then 'public'
                           else quote_ident(r) end, ', ')
    into roles
    from unnest(array[{{ roles | join(', ') }}]::text[]) as r
    where r = 'public' or exists (select 1 from pg_roles where rolname = r);
    if roles is not null then
        execute format('create policy %I on %s as %s for %s to %s',
                       {{ pgshift_literal(policy.name) }},
                       {{ pgshift_literal(table) }},
                       {{ pgshift_literal(
                           'permissive' if policy.permissive else 'restrictive') }},
                       {{ pgshift_literal(policy.command) }}, roles)
                || {{ pgshift_literal(clauses | join('')) }};
    end if;
end
            {%- endset -%}
            {%- do statements.append(pgshift_do(body)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
{% endmacro %}
