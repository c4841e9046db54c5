{# Give a registry of an older pgshift its final_schema column and key. #}
{#- The registries (the final tables pgshift built, the routines and
    triggers it created) record the final schema of each entry: one target
    may hold several final schemas, each migrated by a run of its own
    (`--schemas a --final-schema a`, then `b`), and a run replaces and takes
    back only what it published into its own. A registry written before
    they did gets the column, each entry the final schema that holds its
    object (``holder``, an expression over the registry's row ``r``), else
    this run's. The key gains the column. A DO block, or nothing when the
    registry does not exist; one that has the column is left as it is.
    Arguments: the registry, quoted; the columns of its key after
    final_schema; the holder expression. -#}
{% macro pgshift_key_by_final_schema(registry, key, holder) -%}
    {%- set body -%}
declare
    old_key name;
begin
    if exists (
        select 1 from pg_attribute
        where attrelid = to_regclass({{ pgshift_literal(registry) }})
          and attname = 'final_schema' and not attisdropped
    ) or to_regclass({{ pgshift_literal(registry) }}) is null then
        return;
    end if;
    alter table {{ registry }} add column final_schema text;
    update {{ registry }} as r set final_schema = coalesce(
        {{ holder }}, {{ pgshift_literal(pgshift_final_schema()) }});
    alter table {{ registry }} alter column final_schema set not null;
    select conname into old_key from pg_constraint
    where conrelid = to_regclass({{ pgshift_literal(registry) }}) and contype = 'p';
    if old_key is not null then
        execute format('alter table %s drop constraint %I',
                       {{ pgshift_literal(registry) }}, old_key);
    end if;
    alter table {{ registry }} add primary key (final_schema, {{ key | join(', ') }});
end
    {%- endset -%}
    {{ pgshift_do(body) }}
{%- endmacro %}
