{# In the publish: the source's owners and privileges, on what was published. #}
{#- Runs last in the publish's transaction, once the tables are in and the
    target's own objects recreated (a failed build applies nothing). Each
    statement of pgshift_source_privileges() (owners, then grants, then
    default privileges) runs when every role it names exists on the target
    and its relation is there; one whose role is missing is recorded with
    its statement, to run once the role exists. A source owner is given
    only where the object is still the publishing role's (or the owner
    pgshift gave it last time): an owner the team set on a replaced table,
    which pgshift_keep_dependents carried over, stays. An object the role
    scaffold read the source as owned (its statement requires no role) goes
    to that role where the target has it and the publishing role may give
    it (superuser, or a member of it), and stays the publishing role's
    otherwise. A statement that
    fails (an owner the publishing role may not assign) is recorded with
    the error, and schema parity then lists the privileges that differ. A
    privilege the final schema gives already (public's USAGE to PUBLIC) is
    not granted again; PUBLIC's USAGE or CREATE on it that the source
    schema does not give is revoked (one the publishing role may not
    revoke, as it neither owns the schema nor made the grant, is recorded
    as failed, with who may).
    A function's, procedure's or aggregate's owner and EXECUTE grants (and
    the revoke of PUBLIC's EXECUTE where the source revoked it) run on the
    routine pgshift_publish_routines created; one not created is "not
    built". So do a type's (enum, domain, composite, range) owner and USAGE
    grants (and the revoke of PUBLIC's USAGE), on the type the build
    created. A grant pgshift gave last time that the source no longer has
    is revoked first (a revoke of PUBLIC's EXECUTE, USAGE or CREATE,
    granted back);
    one that cannot be (others hold privileges granted through it) is
    recorded as not revoked.
    Everything goes into the state table named by the var privileges_table,
    rewritten at each publish: pgshift_keep_dependents reads it to tell
    pgshift's grants and owners from the team's, and verify reports it. -#}
{% macro pgshift_apply_privileges() %}
    {%- set final_schema = pgshift_final_schema() -%}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('privileges_table')) -%}
    {%- set rows = [] -%}
    {%- for entry in pgshift_source_privileges(pgshift_ident(final_schema)) -%}
        {%- set roles = [] -%}
        {%- for role in entry.roles -%}
            {%- do roles.append(pgshift_literal(role)) -%}
        {%- endfor -%}
        {%- do rows.append(
            "(" ~ loop.index ~ ", " ~ pgshift_literal(entry.kind)
            ~ ", " ~ pgshift_literal(entry.object)
            ~ ", " ~ pgshift_literal(entry.column)
            ~ ", " ~ pgshift_literal(entry.grantee)
            ~ ", " ~ pgshift_literal(entry.privilege)
            ~ ", " ~ ("true" if entry.grantable else "false")
            ~ ", array[" ~ (roles | join(', ')) ~ "]::text[]"
            ~ ", " ~ pgshift_literal(entry.relation)
            ~ ", " ~ pgshift_literal(entry.statement)
            ~ ", " ~ pgshift_literal(entry.revoke) ~ ")") -%}
    {%- endfor -%}
    {%- set sql -%}
create table if not exists {{ registry }} (
    ord integer not null,
    kind text not null,
    object text not null,
    column_name text not null,
    grantee text not null,
    privilege text not null,
    grantable boolean not null,
    statement text not null,
    revoke_statement text not null default '',
    outcome text not null,
    detail text not null default '',
    final_schema text
);
-- One target may hold several final schemas, a publish each: each keeps
-- and takes back its own. A row of an older pgshift (no final schema) is
-- no publish's to take back: replaced by this one.
alter table {{ registry }} add column if not exists final_schema text;
drop table if exists pg_temp.pgshift_privileges_before;
create temporary table pgshift_privileges_before on commit drop as
select * from {{ registry }}
where final_schema = {{ pgshift_literal(final_schema) }};
delete from {{ registry }}
where final_schema = {{ pgshift_literal(final_schema) }} or final_schema is null;
{% set body -%}
declare
    final_schema text := {{ pgshift_literal(final_schema) }};
    stale record;
    entry record;
    missing text[];
    rel regclass;
    proc regprocedure;
    typ regtype;
    owner_now text;
    result text;
    detail text;
begin
    drop table if exists pg_temp.pgshift_privileges_wanted;
    create temporary table pgshift_privileges_wanted (
        ord integer, kind text, object text, col text, grantee text,
        privilege text, grantable boolean, roles text[], relation text,
        statement text, revoke_statement text
    ) on commit drop;
    {%- if rows %}
    insert into pgshift_privileges_wanted values
        {{ rows | join(',\n        ') }};
    {%- endif %}

    -- What pgshift granted last time and the source no longer grants (on
    -- what was not replaced: a standalone sequence, the schema, a table a
    -- partial build left alone) is taken back first.
    for stale in
        select b.* from pgshift_privileges_before as b
        where b.outcome in ('granted', 'revoked') and b.revoke_statement <> ''
          and not exists (
              select 1 from pgshift_privileges_wanted as w
              where w.kind = b.kind and w.object = b.object
                and w.col = b.column_name and w.grantee = b.grantee
                and w.privilege = b.privilege and w.grantable = b.grantable)
    loop
        begin
            execute stale.revoke_statement;
        exception when others then
            get stacked diagnostics detail = message_text;
            insert into {{ registry }} (
                ord, kind, object, column_name, grantee, privilege, grantable,
                statement, outcome, detail, final_schema
            )
            values (
                0, stale.kind, stale.object, stale.column_name, stale.grantee,
                stale.privilege, stale.grantable, stale.revoke_statement,
                'not revoked', detail, final_schema
            );
        end;
    end loop;

    for entry in select * from pgshift_privileges_wanted order by ord
    loop
        result := null;
        detail := '';
        rel := null;
        proc := null;
        typ := null;
        select array_agg(r order by r) into missing
        from unnest(entry.roles) as r
        where not exists (select 1 from pg_roles where rolname = r);
        if entry.relation = 'routine' then
            -- An aggregate of no arguments prints as name(*), reads as name().
            proc := to_regprocedure(format('%I.', final_schema)
                || regexp_replace(entry.object, '\(\*\)$', '()'));
        elsif entry.relation = 'type' then
            typ := to_regtype(format('%I.%I', final_schema, entry.object));
        elsif entry.relation <> '' then
            rel := to_regclass(format('%I.%I', final_schema, entry.object));
        end if;
        if missing is not null then
            result := 'role missing';
            detail := array_to_string(missing, ', ');
        elsif entry.relation <> '' and rel is null and proc is null
                and typ is null then
            result := 'not built';
        elsif entry.kind = 'schema' and not entry.grantable and exists (
                select 1
                from pg_namespace as n
                cross join lateral aclexplode(
                    coalesce(n.nspacl, acldefault('n', n.nspowner))) as a
                where n.nspname = final_schema
                    and a.privilege_type = upper(entry.privilege)
                    and a.grantee = case entry.grantee
                        when 'public' then 0
                        else to_regrole(quote_ident(entry.grantee))::oid end
            ) then
            -- The target's schema grants it already (public's USAGE to
            -- PUBLIC); a role that only holds it through PUBLIC is given
            -- its own grant, as on the source.
            result := 'held';
        elsif entry.kind in ('owner', 'routine owner', 'type owner') then
            if proc is not null then
                select pg_get_userbyid(p.proowner) into owner_now
                from pg_proc as p where p.oid = proc;
            elsif typ is not null then
                select pg_get_userbyid(t.typowner) into owner_now
                from pg_type as t where t.oid = typ;
            else
                select pg_get_userbyid(c.relowner) into owner_now
                from pg_class as c where c.oid = rel;
            end if;
            if owner_now = entry.grantee then
                result := 'owned';
            elsif entry.kind = 'owner' and cardinality(entry.roles) = 0
                    and not (
                        exists (select 1 from pg_roles where rolname = entry.grantee)
                        and pg_has_role(current_user,
                                        to_regrole(quote_ident(entry.grantee)),
                                        'MEMBER')) then
                -- The role scaffold read the source as, which owned the
                -- object there: the publishing role keeps it where that
                -- role is missing or not one it may give objects to.
                result := 'kept by the migrating role';
                detail := owner_now;
            elsif owner_now <> current_user and not exists (
                select 1 from pgshift_privileges_before as b
                where b.kind = entry.kind and b.object = entry.object
                  and b.grantee = owner_now and b.outcome = 'owned'
            ) then
                result := 'owner kept';
                detail := owner_now;
            end if;
        end if;
        if result is null then
            begin
                if entry.kind = 'schema' and entry.privilege like 'revoke %'
                        and has_schema_privilege(
                            'public', final_schema,
                            upper(substr(entry.privilege, 8))) then
                    -- Said in the report: the target's other roles lose it.
                    detail := 'PUBLIC held it on the target: every role '
                        'that held it only through PUBLIC lost it';
                end if;
                execute entry.statement;
                result := case
                    when entry.kind in ('owner', 'routine owner', 'type owner')
                        then 'owned'
                    when entry.privilege like 'revoke %'
                        then 'revoked'
                    else 'granted' end;
                if entry.kind = 'schema' and result = 'revoked'
                        and has_schema_privilege(
                            'public', final_schema,
                            upper(substr(entry.privilege, 8))) then
                    -- REVOKE by a role that neither owns the schema nor
                    -- made the grant revokes nothing, with a warning.
                    result := 'failed';
                    select format(
                        'PUBLIC keeps it: only the schema''s owner (%s), a '
                        'member of it or a superuser may revoke it; run the '
                        'statement as one', pg_get_userbyid(n.nspowner))
                        || case when exists (
                            select 1
                            from aclexplode(coalesce(
                                n.nspacl, acldefault('n', n.nspowner))) as a
                            where a.grantee <> 0
                              and a.privilege_type
                                  = upper(substr(entry.privilege, 8))
                              and pg_has_role(current_user, a.grantee, 'USAGE'))
                            then ''
                            else format(
                                ', granting %I its own %s first (it holds it '
                                'through PUBLIC alone, and publishes)',
                                current_user, substr(entry.privilege, 8))
                            end
                    into detail
                    from pg_namespace as n where n.nspname = final_schema;
                end if;
            exception when others then
                get stacked diagnostics detail = message_text;
                result := 'failed';
            end;
        end if;
        insert into {{ registry }} (
            ord, kind, object, column_name, grantee, privilege, grantable,
            statement, revoke_statement, outcome, detail, final_schema
        )
        values (
            entry.ord, entry.kind, entry.object, entry.col, entry.grantee,
            entry.privilege, entry.grantable, entry.statement,
            entry.revoke_statement, result, detail, final_schema
        );
    end loop;
end
{%- endset %}
{{ pgshift_do(body) }}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
