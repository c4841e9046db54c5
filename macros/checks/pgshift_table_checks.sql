{# One final table's checks, for its pgshift_constraints test
   (tests/generic/): a list of {sql, enforced}: a select giving one row
   when its check fails (the table, the check's name, how many rows or key
   values break it, and one of them), and the SQL condition under which a
   constraint of the table enforces it (none for the checksum). #}
{#- source_table: the source table whose figures the loader recorded in the
    manifest, inside the source snapshot; the checksum runs over the
    columns the final model declares (pgshift_declared_columns), as
    verify's does, and a differing one gives both figures (verify then
    names the differing rows). The checksum reads every row, once.
    Each other check is answered from the catalog when PostgreSQL itself
    enforces it (pgshift_enforced_unique, _not_null, _foreign_key,
    _values): then no row is read for it. Without such a constraint (one
    left out because the rows break it, a view onto a published table)
    the rows are scanned.
    keys: [{columns}], not_null: [column], foreign_keys: [{name, columns, to
    (the parent's model, or its table in to_schema when the parent is
    outside the migration), fields}], enums: [{column, values (SQL
    literals)}]. -#}
{% macro pgshift_table_checks(
    model, source_table=none, keys=[], not_null=[], foreign_keys=[], enums=[]
) %}

{%- set checks = [] -%}
{%- set table = pgshift_literal(model.identifier) -%}

{%- if source_table is not none -%}
    {%- set columns = pgshift_declared_columns(model) if execute else [] -%}
    {%- set check -%}
    select
        {{ table }} as pgshift_table,
        {{ pgshift_literal(
            'same rows as the source table ' ~ source_table
            ~ ' (count, checksum)') }} as pgshift_check,
        final_figures.final_rows as failing_rows,
        'source ' || coalesce(source_figures.source_rows::text, 'unknown')
        || ' rows, checksum '
        || coalesce(source_figures.source_checksum, 'unknown')
        || '; final ' || final_figures.final_rows || ' rows, checksum '
        || final_figures.final_checksum as example
    from (
        {{ pgshift_table_checksum(model, columns) }}
    ) as final_figures
    left join (
        select
            source_rows,
            source_checksum
        from {{ pgshift_ident(var('state_schema'), var('manifest_table')) }}
        where table_name = {{ pgshift_literal(source_table) }}
    ) as source_figures on true
    where
        source_figures.source_rows is distinct from final_figures.final_rows
        or source_figures.source_checksum
        is distinct from final_figures.final_checksum
    {%- endset -%}
    {%- do checks.append({'sql': check, 'enforced': none}) -%}
{%- endif -%}

{%- for key in keys -%}
    {%- set columns = [] -%}
    {%- for column in key.columns -%}
        {%- do columns.append(pgshift_ident(column)) -%}
    {%- endfor -%}
    {%- set enforced = pgshift_enforced_unique(model, key.columns) -%}
    {%- set check -%}
    select
        {{ table }} as pgshift_table,
        {{ pgshift_literal('unique (' ~ (key.columns | join(', ')) ~ ')') }}
            as pgshift_check,
        count(*) as failing_rows,
        min(example) as example
    from (
        select row({{ columns | join(', ') }})::text as example
        from {{ model }}
        where
            {% for column in columns -%}
            {{ column }} is not null and
            {% endfor -%}
            not {{ enforced }}
        group by {{ columns | join(', ') }}
        having count(*) > 1
    ) as duplicated
    having count(*) > 0
    {%- endset -%}
    {%- do checks.append({'sql': check, 'enforced': enforced}) -%}
{%- endfor -%}

{%- for column in not_null -%}
    {%- set enforced = pgshift_enforced_not_null(model, pgshift_ident(column)) -%}
    {%- set check -%}
    select
        {{ table }} as pgshift_table,
        {{ pgshift_literal('not null (' ~ column ~ ')') }} as pgshift_check,
        count(*) as failing_rows,
        null::text as example
    from {{ model }}
    where
        {{ pgshift_ident(column) }} is null
        and not {{ enforced }}
    having count(*) > 0
    {%- endset -%}
    {%- do checks.append({'sql': check, 'enforced': enforced}) -%}
{%- endfor -%}

{%- for key in foreign_keys -%}
    {#- A parent outside the migration is a table the target holds. -#}
    {%- set parent = api.Relation.create(
        schema=key.to_schema, identifier=key.to)
        if key.get('to_schema') else ref(key.to) -%}
    {%- set enforced = pgshift_enforced_foreign_key(
        model, key.columns, parent, key.fields) -%}
    {%- set columns = [] -%}
    {%- for column in key.columns -%}
        {%- do columns.append('child.' ~ pgshift_ident(column)) -%}
    {%- endfor -%}
    {%- set label = 'foreign key ' ~ key.name
        ~ ' (' ~ (key.columns | join(', ')) ~ ') -> '
        ~ (key.to_schema ~ '.' if key.get('to_schema') else '')
        ~ key.to ~ ' (' ~ (key.fields | join(', ')) ~ ')' -%}
    {%- set check -%}
    select
        {{ table }} as pgshift_table,
        {{ pgshift_literal(label) }} as pgshift_check,
        count(*) as failing_rows,
        min(row({{ columns | join(', ') }})::text) as example
    from {{ model }} as child
    where
        {% for column in columns -%}
        {{ column }} is not null and
        {% endfor -%}
        not {{ enforced }}
        and not exists (
            select 1
            from {{ parent }} as parent
            where
                not {{ enforced }}
                {% for column in columns -%}
                and parent.{{ pgshift_ident(key.fields[loop.index0]) }}
                = {{ column }}
                {% endfor %}
        )
    having count(*) > 0
    {%- endset -%}
    {%- do checks.append({'sql': check, 'enforced': enforced}) -%}
{%- endfor -%}

{%- for enum in enums -%}
    {%- set column = pgshift_ident(enum.column) -%}
    {%- set enforced = pgshift_enforced_values(
        model, enum.column, enum['values']) -%}
    {%- set check -%}
    select
        {{ table }} as pgshift_table,
        {{ pgshift_literal('accepted values (' ~ enum.column ~ ')') }}
            as pgshift_check,
        count(*) as failing_rows,
        min({{ column }}::text) as example
    from {{ model }}
    where
        {{ column }} is not null
        and {{ column }}::text not in ({{ enum['values'] | join(', ') }})
        and not {{ enforced }}
    having count(*) > 0
    {%- endset -%}
    {%- do checks.append({'sql': check, 'enforced': enforced}) -%}
{%- endfor -%}

{{ return(checks) }}

{% endmacro %}
