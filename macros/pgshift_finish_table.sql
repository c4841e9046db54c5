{# Post-hook of every final model: keys, indexes, ANALYZE, foreign keys. #}
{#- Runs in the model's own transaction, right after its rows are in, so
    the two dbt threads build keys and indexes of different tables at the
    same time, and another model sees the table only with all of them.
    The keys and indexes come from meta.pgshift (the source's names and
    definitions, columns renamed). A foreign key is added here when its
    parent is already a table in the build schema (its edge ordered the
    build); the others (cycles, parents not rebuilt) are added on-run-end
    and in the publish. Duplicates or orphans leave a key out instead of
    failing the model: the table's uniqueness and relationships tests then
    scan the rows and name them, and pgshift_require_complete keeps such a
    table from being published even when no test runs (`dbt run`). -#}
{% macro pgshift_finish_table() %}
    {%- if execute -%}
    {%- set node = graph.nodes[model.unique_id] -%}
    {%- set statements = pgshift_ensure_identities(this, node)
        + pgshift_ensure_keys(this, node)
        + pgshift_ensure_indexes(this, node)
        + ["analyze " ~ this]
        + pgshift_add_foreign_keys(this.schema, node) -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}

{# The statements that finish a table's identity columns. #}
{#- The contract declares every identity column BY DEFAULT, so that the
    insert keeps the existing ids; then its sequence is set so the next
    insert gets max(column) + 1, and an ALWAYS identity becomes ALWAYS. -#}
{% macro pgshift_ensure_identities(relation, node) %}
    {%- set statements = [] -%}
    {%- for identity in node.meta.pgshift.get('identities', []) -%}
        {%- set column = adapter.quote(identity.column) -%}
        {%- do statements.append(
            "select setval(pg_get_serial_sequence("
            ~ pgshift_literal(relation) ~ ", " ~ pgshift_literal(identity.column)
            ~ "), coalesce(max(" ~ column ~ "), 0) + 1, false) from " ~ relation
        ) -%}
        {%- if identity.always -%}
            {%- do statements.append(
                "alter table " ~ relation ~ " alter column " ~ column
                ~ " set generated always"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}

{# The statements that add a table's primary key and unique constraints. #}
{% macro pgshift_ensure_keys(relation, node) %}
    {%- set statements = [] -%}
    {%- for key in node.meta.pgshift.get('keys', []) -%}
        {%- do statements.append(
            "do $pgshift$ begin if "
            ~ pgshift_constraint_missing_sql(relation, key.name)
            ~ " then alter table " ~ relation ~ " add constraint "
            ~ adapter.quote(key.name) ~ " " ~ key.definition
            ~ "; end if; exception when unique_violation or not_null_violation"
            ~ " then null; end $pgshift$"
        ) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}

{# The statements that create a table's secondary indexes. #}
{% macro pgshift_ensure_indexes(relation, node) %}
    {%- set statements = [] -%}
    {%- for index in node.meta.pgshift.get('indexes', []) -%}
        {%- do statements.append(
            "do $pgshift$ begin create " ~ ("unique " if index.unique else "")
            ~ "index if not exists " ~ adapter.quote(index.name) ~ " on "
            ~ relation ~ " using " ~ index.using
            ~ "; exception when unique_violation then null; end $pgshift$"
        ) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}

{# One statement: add a final model's foreign keys whose tables exist. #}
{#- In the given schema, a key is added when both of its tables are tables
    there (not the build schema's views onto published tables, and not a
    table another build thread has not committed yet) and no constraint of
    that name is on the child. The parents of the missing keys are locked
    first, in one order (by name): adding a foreign key locks its parent
    until the transaction ends, and two transactions locking shared parents
    in different orders could deadlock. Orphans (and a parent whose key
    could not be added) leave the key out. -#}
{% macro pgshift_add_foreign_keys(schema, node) %}
    {%- set models = pgshift_final_models_by_name() -%}
    {%- set child = adapter.quote(schema) ~ '.' ~ adapter.quote(node.alias) -%}
    {%- set missing_by_parent = {} -%}
    {%- set adds = [] -%}
    {%- for key in node.meta.pgshift.get('foreign_keys', []) if key.to in models -%}
        {%- set parent = adapter.quote(schema) ~ '.'
            ~ adapter.quote(models[key.to].alias) -%}
        {%- set missing = pgshift_constraint_missing_sql(child, key.name, 'f') -%}
        {%- if parent != child -%}
            {%- do missing_by_parent.setdefault(parent, []).append(missing) -%}
        {%- endif -%}
        {%- set columns = [] -%}
        {%- for c in key.columns -%}
            {%- do columns.append(adapter.quote(c)) -%}
        {%- endfor -%}
        {%- set to_columns = [] -%}
        {%- for c in key.to_columns -%}
            {%- do to_columns.append(adapter.quote(c)) -%}
        {%- endfor -%}
        {%- do adds.append(
            "if " ~ pgshift_literal(parent) ~ " = any(locked) and " ~ missing
            ~ " then begin alter table " ~ child ~ " add constraint "
            ~ adapter.quote(key.name) ~ " foreign key (" ~ (columns | join(', '))
            ~ ") references " ~ parent ~ " (" ~ (to_columns | join(', ')) ~ ") "
            ~ key.get('options', '') ~ "; exception when foreign_key_violation"
            ~ " or invalid_foreign_key then null; end; end if;"
        ) -%}
    {%- endfor -%}
    {%- set locks = [] -%}
    {%- for parent in missing_by_parent | sort(case_sensitive=true) -%}
        {%- do locks.append(
            "if " ~ pgshift_is_table_sql(parent) ~ " and ("
            ~ (missing_by_parent[parent] | join(' or ')) ~ ") then lock table "
            ~ parent ~ " in share row exclusive mode; locked := locked || "
            ~ pgshift_literal(parent) ~ "::text; end if;"
        ) -%}
    {%- endfor -%}
    {%- if adds -%}
        {{ return([
            "do $pgshift$ declare locked text[] := array[" ~ pgshift_literal(child)
            ~ "]; begin if " ~ pgshift_is_table_sql(child) ~ " then "
            ~ (locks | join(' ')) ~ " " ~ (adds | join(' ')) ~ " end if; end $pgshift$"
        ]) }}
    {%- else -%}
        {{ return([]) }}
    {%- endif -%}
{% endmacro %}

{# SQL: whether a name is an ordinary or partitioned table right now. #}
{% macro pgshift_is_table_sql(relation) -%}
    exists (select 1 from pg_class where oid = to_regclass({{ pgshift_literal(relation) }}) and relkind in ('r', 'p'))
{%- endmacro %}

{# SQL: a string literal. #}
{% macro pgshift_literal(text) -%}
    '{{ (text | string).replace("'", "''") }}'
{%- endmacro %}

{# SQL: whether a table has no constraint of this name (and kind, if given). #}
{% macro pgshift_constraint_missing_sql(relation, name, kind=none) -%}
    not exists (select 1 from pg_constraint where conrelid = {{ pgshift_literal(relation) }}::regclass and conname = {{ pgshift_literal(name) }}
    {%- if kind %} and contype = {{ pgshift_literal(kind) }}{% endif %})
{%- endmacro %}
