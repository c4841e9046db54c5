{# One statement: write down, before the publish drops the replaced tables,
   every object of the target's that depends on them and that pgshift did
   not build, as the statements that recreate it. #}
{#- `drop table ... cascade` removes whatever depends on a final table: the
    team's views and materialized views (and views on those), foreign keys
    from the team's tables, and, on the table itself, the team's indexes,
    constraints, triggers, rules, policies, row-level security, grants,
    comments, publications and ownership; and the routines of other schemas
    taking or returning its row type. Each is written down here, in the
    order it must be recreated, into the temporary table pgshift_dependents
    (dropped when the publish's transaction ends);
    pgshift_restore_dependents replays them once the new tables are in.
    What pgshift builds itself is left out: the build schema's views, and,
    on the replaced tables and on the final tables that point at them, every
    key, index and foreign key the final models declare (the new tables
    carry them, and pgshift_ensure_foreign_keys restores the rest), and the
    grants and owners the last publish gave from the source (the state
    table named by the var privileges_table): pgshift_apply_privileges
    gives the source's again, so one the source no longer has goes.
    Arguments: the final tables about to be replaced, the final schema,
    the build schema, the names ("table.object") of the keys, indexes,
    foreign keys and policies the final models declare ("table." for the
    row-level security of a table whose source has it on), and the views
    this run built (pgshift's earlier views of those names are replaced,
    not kept). -#}
{% macro pgshift_keep_dependents(
    tables, final_schema, build_schema, declared, views=[]
) %}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('built_table')) -%}
    {%- set routines = pgshift_ident(
        var('state_schema'), var('routines_table', 'built_routines')) -%}
    {%- set privileges = pgshift_ident(
        var('state_schema'), var('privileges_table')) -%}
    {%- set table_literals = [] -%}
    {%- for table in tables -%}
        {%- do table_literals.append(pgshift_literal(table)) -%}
    {%- endfor -%}
    {%- set declared_literals = [] -%}
    {%- for name in declared -%}
        {%- do declared_literals.append(pgshift_literal(name)) -%}
    {%- endfor -%}
    {%- set view_literals = [] -%}
    {%- for view in views -%}
        {%- do view_literals.append(pgshift_literal(view)) -%}
    {%- endfor -%}
    {%- set sql -%}
create temporary table if not exists pgshift_dependents (
    ord serial,
    kind text not null,
    -- What the object is, as "schema.relation[.name]".
    object text not null,
    on_table text not null,
    statement text not null,
    current_value text
) on commit drop;
truncate pgshift_dependents;
{% set body -%}
declare
    final_schema text := {{ pgshift_literal(final_schema) }};
    build_schema text := {{ pgshift_literal(build_schema) }};
    declared text[] := array[{{ declared_literals | join(', ') }}]::text[];
    -- "table.trigger" of the triggers pgshift created (pgshift_publish_routines).
    own_triggers text[] := '{}';
    rebuilt_views text[] := array[{{ view_literals | join(', ') }}]::text[];
    registered text[] := '{}';
    replaced oid[];
    -- Their partitions, at any depth: the drop takes them, and with them
    -- what the team made on one (its own indexes, checks, triggers, grants,
    -- comments, a view reading it).
    partitions oid[];
    rel record;
    obj record;
    target text;
    label text;
    ours boolean;
    published jsonb;
    -- The grants and owners pgshift gave from the source last time.
    source_grants text[] := '{}';
begin
    -- Each registry's rows of this final schema (as pgshift_registered_here
    -- reads them; on-run-start keyed a registry of an older pgshift).
    if to_regclass({{ pgshift_literal(routines) }}) is not null then
        execute format(
            'select coalesce(array_agg(on_table || %L || name), %L) from %s '
            'as r where kind = %L and to_jsonb(r) ->> %L = $1',
            '.', '{}', {{ pgshift_literal(routines) }}, 'trigger',
            'final_schema')
        into own_triggers using final_schema;
    end if;
    if to_regclass({{ pgshift_literal(registry) }}) is not null then
        execute format('select coalesce(array_agg(table_name::text), %L) '
                       'from %s as r '
                       'where to_jsonb(r) ->> %L = $1',
                       '{}', {{ pgshift_literal(registry) }}, 'final_schema')
        into registered using final_schema;
    end if;

    if to_regclass({{ pgshift_literal(privileges) }}) is not null then
        execute format(
            'select coalesce(array_agg(case kind when %L then %L || object '
            '|| %L || grantee else object || %L || column_name || %L || grantee '
            '|| %L || privilege || %L || grantable::text end), %L) from %s '
            'as r where outcome in (%L, %L) and kind not in (%L, %L) '
            'and to_jsonb(r) ->> %L = $1',
            'owner', 'owner|', '|', '|', '|', '|', '|', '{}',
            {{ pgshift_literal(privileges) }}, 'granted', 'owned', 'schema',
            'default', 'final_schema')
        into source_grants using final_schema;
    end if;
    -- The tables this publish replaces (only those that exist as tables).
    select coalesce(array_agg(c.oid), '{}') into replaced
    from pg_class as c
    where c.oid in (
        select to_regclass(format('%I.%I', final_schema, t))
        from unnest(array[{{ table_literals | join(', ') }}]::text[]) as t
    ) and c.relkind in ('r', 'p');
    select coalesce(array_agg(tree.relid), '{}') into partitions
    from unnest(replaced) as r (oid)
    cross join lateral pg_partition_tree(r.oid) as tree
    where tree.level > 0;

    -- The replaced tables and their partitions, then every view or
    -- materialized view that reads one of them, directly or through other
    -- views, in creation order.
    for rel in
        with recursive readers (oid, depth, root) as (
            select c.oid, 0, c.oid from pg_class as c
            where c.oid = any(replaced || partitions)
            union all
            select distinct r.ev_class, readers.depth + 1, readers.root
            from readers
            inner join pg_depend as d
                on d.refclassid = 'pg_class'::regclass
                and d.refobjid = readers.oid
                and d.classid = 'pg_rewrite'::regclass
            inner join pg_rewrite as r on r.oid = d.objid
            where r.ev_class <> readers.oid
        )
        select c.oid, c.relkind, c.relname::text as name, n.nspname::text as schema,
               format('%I.%I', n.nspname, c.relname) as qualified,
               c.reloptions, c.relowner, c.relacl, c.relrowsecurity,
               c.relforcerowsecurity, max(readers.depth) as depth,
               (select rn.nspname || '.' || rc.relname from pg_class as rc
                inner join pg_namespace as rn on rn.oid = rc.relnamespace
                where rc.oid = min(readers.root)) as reads
        from readers
        inner join pg_class as c on c.oid = readers.oid
        inner join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname <> build_schema
          -- pgshift's own views, which this run built again.
          and not (n.nspname = final_schema and c.relkind in ('v', 'm')
                   and c.relname = any(rebuilt_views)
                   and c.relname = any(registered))
        group by c.oid, n.nspname
        order by max(readers.depth), n.nspname, c.relname
    loop
        target := rel.qualified;
        label := rel.schema || '.' || rel.name;
        if rel.relkind in ('v', 'm') then
            insert into pgshift_dependents (kind, object, on_table, statement)
            values (
                case rel.relkind when 'v' then 'view' else 'materialized view' end,
                label, rel.reads,
                format(
                    'create %s %s%s as %s%s',
                    case rel.relkind when 'v' then 'view' else 'materialized view' end,
                    target,
                    coalesce(' with (' || array_to_string(rel.reloptions, ', ') || ')', ''),
                    rtrim(pg_get_viewdef(rel.oid), ';'),
                    case rel.relkind when 'm' then ' with data' else '' end
                )
            );
        end if;

        -- Columns of the team's on a table pgshift built: the new table (in the
        -- build schema until the publish moves it) has no place for their
        -- values, so they can only be left out, and only when asked to.
        -- The columns pgshift published there last time are its own (a
        -- name map changed since renames them; their values are in the new
        -- table under their new names).
        ours := false;
        published := '{}';
        if rel.oid = any(replaced)
                and to_regclass({{ pgshift_literal(registry) }}) is not null then
            execute format('select true, coalesce((to_jsonb(r) -> %L), %L)
                            from %s as r where table_name = $1
                            and to_jsonb(r) ->> %L = $2',
                           'published_columns', '[]',
                           {{ pgshift_literal(registry) }}, 'final_schema')
            into ours, published using rel.name, final_schema;
            ours := coalesce(ours, false);
        end if;
        -- (A table replaced by consent, --replace-existing, gives up its
        -- columns and rows with it.)
        if ours then
            for obj in
                select att.attname::text as name
                from pg_attribute as att
                where att.attrelid = rel.oid and att.attnum > 0
                  and not att.attisdropped
                  and not published operator(pg_catalog.?) att.attname
                  and not exists (
                      select 1 from pg_attribute as built
                      where built.attrelid = to_regclass(
                              format('%I.%I', build_schema, rel.name))
                        and built.attname = att.attname
                        and not built.attisdropped)
                order by att.attnum
            loop
                insert into pgshift_dependents (kind, object, on_table, statement)
                values ('column', label || '.' || obj.name, label,
                        format('do $c$ begin raise exception using message = %L; end $c$',
                               'the source has no such column: its values '
                               'would be lost'));
            end loop;
        end if;

        -- Constraints of the team's: on a replaced table (or one of its
        -- partitions) those it does not declare, not those a partition has
        -- from its table; foreign keys into a replaced table from other
        -- tables.
        for obj in
            select con.conname::text as name, pg_get_constraintdef(con.oid) as def,
                   format('%I.%I', cn.nspname, cc.relname) as owner_table,
                   cn.nspname || '.' || cc.relname as owner_label
            from pg_constraint as con
            inner join pg_class as cc on cc.oid = con.conrelid
            inner join pg_namespace as cn on cn.oid = cc.relnamespace
            where (
                (con.conrelid = rel.oid and con.contype in ('c', 'u', 'x', 'f', 'p'))
                or (con.confrelid = rel.oid and con.conrelid <> rel.oid
                    and con.contype = 'f'
                    and not con.conrelid = any(replaced || partitions))
            )
            and con.conparentid = 0 and con.conislocal
            and cn.nspname <> build_schema
            and not (cn.nspname = final_schema
                     and cc.relname || '.' || con.conname = any(declared))
            order by cc.relname, con.conname
        loop
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('constraint', obj.owner_label || '.' || obj.name, label,
                    format('alter table %s add constraint %I %s',
                           obj.owner_table, obj.name, obj.def));
        end loop;

        -- Indexes of the team's (not behind a constraint, not declared, not
        -- a partition's part of its table's index).
        for obj in
            select ic.relname::text as name, pg_get_indexdef(i.indexrelid) as def
            from pg_index as i
            inner join pg_class as ic on ic.oid = i.indexrelid
            where i.indrelid = rel.oid
              and not exists (select 1 from pg_constraint as con
                              where con.conindid = i.indexrelid
                                and con.contype in ('p', 'u', 'x'))
              and not exists (select 1 from pg_inherits as inh
                              where inh.inhrelid = i.indexrelid)
              and not (rel.schema = final_schema
                       and rel.name || '.' || ic.relname = any(declared))
            order by ic.relname
        loop
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('index', label || '.' || obj.name, label, obj.def);
        end loop;

        -- Triggers (with their enabled state) and rules; not those pgshift
        -- created from the source's, which pgshift_publish_routines recreates.
        for obj in
            select tg.tgname::text as name, pg_get_triggerdef(tg.oid) as def,
                   tg.tgenabled
            from pg_trigger as tg
            where tg.tgrelid = rel.oid and not tg.tgisinternal
              and tg.tgparentid = 0
              and not (rel.schema = final_schema
                       and rel.name || '.' || tg.tgname = any(own_triggers))
            order by tg.tgname
        loop
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('trigger', label || '.' || obj.name, label, obj.def);
            if obj.tgenabled <> 'O' then
                insert into pgshift_dependents (kind, object, on_table, statement)
                values ('trigger', label || '.' || obj.name, label,
                        format('alter table %s %s trigger %I', target,
                               case obj.tgenabled when 'D' then 'disable'
                                    when 'A' then 'enable always'
                                    else 'enable replica' end,
                               obj.name));
            end if;
        end loop;
        for obj in
            select r.rulename::text as name, pg_get_ruledef(r.oid) as def
            from pg_rewrite as r
            where r.ev_class = rel.oid and r.rulename <> '_RETURN'
            order by r.rulename
        loop
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('rule', label || '.' || obj.name, label, obj.def);
        end loop;

        -- Row-level security and its policies.
        if rel.relrowsecurity
                and not (rel.schema = final_schema
                         and rel.name || '.' = any(declared)) then
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('row-level security', label, label,
                    format('alter table %s enable row level security', target));
        end if;
        if rel.relforcerowsecurity
                and not (rel.schema = final_schema
                         and rel.name || '.' = any(declared)) then
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('row-level security', label, label,
                    format('alter table %s force row level security', target));
        end if;
        for obj in
            select p.policyname::text as name,
                   format(
                       'create policy %I on %s as %s for %s to %s%s%s',
                       p.policyname, target, p.permissive, p.cmd,
                       (select string_agg(
                                   case when r = 'public' then 'public'
                                        else quote_ident(r) end, ', ')
                        from unnest(p.roles) as r),
                       coalesce(' using (' || p.qual || ')', ''),
                       coalesce(' with check (' || p.with_check || ')', '')
                   ) as def
            from pg_policies as p
            where p.schemaname = rel.schema and p.tablename = rel.name
              and not (rel.schema = final_schema
                       and rel.name || '.' || p.policyname = any(declared))
            order by p.policyname
        loop
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('policy', label || '.' || obj.name, label, obj.def);
        end loop;

        -- Privileges granted to other roles than the owner, on the relation
        -- and on its columns.
        for obj in
            select format(
                       'grant %s on %s to %s%s', a.privilege_type, target,
                       case a.grantee when 0 then 'public'
                            else quote_ident(pg_get_userbyid(a.grantee)) end,
                       case when a.is_grantable then ' with grant option' else '' end
                   ) as def,
                   case a.grantee when 0 then 'public'
                        else pg_get_userbyid(a.grantee) end as grantee,
                   concat_ws('|', rel.name, '',
                             case a.grantee when 0 then 'public'
                                  else pg_get_userbyid(a.grantee) end,
                             lower(a.privilege_type), a.is_grantable::text) as key
            from aclexplode(rel.relacl) as a
            where a.grantee <> rel.relowner
            union all
            select format(
                       'grant %s (%I) on %s to %s%s', a.privilege_type,
                       att.attname, target,
                       case a.grantee when 0 then 'public'
                            else quote_ident(pg_get_userbyid(a.grantee)) end,
                       case when a.is_grantable then ' with grant option' else '' end
                   ),
                   case a.grantee when 0 then 'public'
                        else pg_get_userbyid(a.grantee) end,
                   concat_ws('|', rel.name, att.attname,
                             case a.grantee when 0 then 'public'
                                  else pg_get_userbyid(a.grantee) end,
                             lower(a.privilege_type), a.is_grantable::text)
            from pg_attribute as att
            cross join lateral aclexplode(att.attacl) as a
            where att.attrelid = rel.oid and att.attnum > 0
              and not att.attisdropped and a.grantee <> rel.relowner
        loop
            continue when rel.schema = final_schema
                and obj.key = any(source_grants);
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('grant', label || ' to ' || obj.grantee, label, obj.def);
        end loop;

        -- Comments, on the relation and its columns. On a replaced table the
        -- source's comment, where the new table has one, stays
        -- (current_value reads it).
        for obj in
            select null::text as col, d.description
            from pg_description as d
            where d.classoid = 'pg_class'::regclass and d.objoid = rel.oid
              and d.objsubid = 0
            union all
            select att.attname::text, d.description
            from pg_description as d
            inner join pg_attribute as att
                on att.attrelid = d.objoid and att.attnum = d.objsubid
            where d.classoid = 'pg_class'::regclass and d.objoid = rel.oid
              and d.objsubid > 0
        loop
            insert into pgshift_dependents
                (kind, object, on_table, statement, current_value)
            values (
                'comment',
                label || coalesce('.' || obj.col, ''),
                label,
                format(
                    'comment on %s %s is %L',
                    case when obj.col is not null then 'column'
                         when rel.relkind = 'v' then 'view'
                         when rel.relkind = 'm' then 'materialized view'
                         else 'table' end,
                    target || coalesce('.' || quote_ident(obj.col), ''),
                    obj.description
                ),
                case when rel.oid = any(replaced || partitions) then format(
                    'select %s',
                    case when obj.col is null
                         then format('obj_description(%L::regclass, %L)',
                                     target, 'pg_class')
                         else format(
                             'col_description(%L::regclass, (select attnum '
                             'from pg_attribute where attrelid = %L::regclass '
                             'and attname = %L))', target, target, obj.col)
                    end) end
            );
        end loop;

        -- Publications the relation belongs to.
        for obj in
            select p.pubname::text as name
            from pg_publication_rel as pr
            inner join pg_publication as p on p.oid = pr.prpubid
            where pr.prrelid = rel.oid
            order by p.pubname
        loop
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('publication', label || ' in ' || obj.name, label,
                    format('alter publication %I add table %s', obj.name, target));
        end loop;

        -- Its owner, when another role than the one publishing (a
        -- partition's is its table's: pgshift_align_partition_owners).
        if pg_get_userbyid(rel.relowner) <> current_user
                and not rel.oid = any(partitions)
                and not (rel.schema = final_schema
                         and 'owner|' || rel.name || '|'
                             || pg_get_userbyid(rel.relowner)
                             = any(source_grants)) then
            insert into pgshift_dependents (kind, object, on_table, statement)
            values ('owner', label || ' owned by ' || pg_get_userbyid(rel.relowner),
                    label,
                    format('alter %s %s owner to %I',
                           case rel.relkind when 'v' then 'view'
                                when 'm' then 'materialized view'
                                else 'table' end,
                           target, pg_get_userbyid(rel.relowner)));
        end if;
    end loop;

    -- Routines of other schemas that take or return the row type of a
    -- replaced table (a later schema's RETURNS SETOF person.address): the
    -- drop takes them with it. Each is created again, with its owner and
    -- its grants.
    for obj in
        select distinct p.oid, p.oid::regprocedure::text as label,
               pg_get_functiondef(p.oid) as definition, p.proowner, p.proacl,
               case p.prokind when 'p' then 'procedure' else 'function' end
                   as kind,
               format('%I.%I', tn.nspname, c.relname) as on_table
        from pg_class as c
        inner join pg_namespace as tn on tn.oid = c.relnamespace
        inner join pg_depend as d
            on d.refclassid = 'pg_type'::regclass
            and d.classid = 'pg_proc'::regclass
            and d.refobjid in (
                c.reltype,
                (select t.typarray from pg_type as t where t.oid = c.reltype))
        inner join pg_proc as p on p.oid = d.objid
        inner join pg_namespace as pn on pn.oid = p.pronamespace
        where c.oid = any(replaced) and pn.nspname <> final_schema
          and p.prokind in ('f', 'p')
        order by 2
    loop
        insert into pgshift_dependents (kind, object, on_table, statement)
        values (
            obj.kind, obj.label, obj.on_table,
            obj.definition
            || format('; alter %s %s owner to %I', obj.kind, obj.label,
                      pg_get_userbyid(obj.proowner))
            || case when obj.proacl is null then '' else
                   format('; revoke all on %s %s from public', obj.kind, obj.label)
                   || coalesce((
                       select string_agg(format(
                           '; grant %s on %s %s to %s%s', a.privilege_type,
                           obj.kind, obj.label,
                           case when a.grantee = 0 then 'public'
                                else quote_ident(pg_get_userbyid(a.grantee)) end,
                           case when a.is_grantable then ' with grant option'
                                else '' end), '')
                       from aclexplode(obj.proacl) as a
                       where a.grantee <> obj.proowner), '')
               end
        );
    end loop;

end
{%- endset %}
{{ pgshift_do(body) }}
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
