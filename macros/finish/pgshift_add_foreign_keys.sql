{# One statement (or none): add a final model's foreign keys in a schema. #}
{#- A key is added when both of its tables are tables (in the schema, or
    the parent in its own schema outside the migration; not the build
    schema's views onto published tables, and not a table another build
    thread has not committed yet) and no constraint of that
    name is on the child. The parents of the missing keys are locked first,
    in one order (by name): adding a foreign key locks its parent until the
    transaction ends, and two transactions locking shared parents in
    different orders could deadlock. Orphans (and a parent whose key could
    not be added) leave the key out. A caller doing this for many nodes
    passes pgshift_final_models_by_name() as models, read once. -#}
{% macro pgshift_add_foreign_keys(schema, node, models=none) %}
    {%- set models = models
        if models is not none else pgshift_final_models_by_name() -%}
    {%- set child = pgshift_ident(schema, node.alias) -%}
    {%- set missing_by_parent = {} -%}
    {%- set keys = [] -%}
    {%- for key in node.meta.pgshift.get('foreign_keys', [])
            if key.get('to_schema') or key.to in models -%}
        {%- set parent = pgshift_foreign_key_parent(schema, key, models) -%}
        {%- set missing =
            pgshift_constraint_missing_sql(child, key.name, 'f') -%}
        {%- if parent != child -%}
            {%- do missing_by_parent.setdefault(parent, []).append(missing) -%}
        {%- endif -%}
        {%- do keys.append((key, parent, missing)) -%}
    {%- endfor -%}
    {%- if not keys -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set body -%}
        declare
            locked text[] := array[{{ pgshift_literal(child) }}];
        begin
            if {{ pgshift_is_table_sql(child) }} then
            {%- for parent in missing_by_parent | sort(case_sensitive=true) %}
                if {{ pgshift_is_table_sql(parent) }}
                    and ({{ missing_by_parent[parent] | join(' or ') }}) then
                    lock table {{ parent }} in share row exclusive mode;
                    locked := locked || {{ pgshift_literal(parent) }}::text;
                end if;
            {%- endfor %}
            {%- for key, parent, missing in keys %}
                if {{ pgshift_literal(parent) }} = any(locked)
                    and {{ missing }} then
                    begin
                        alter table {{ child }}
                            add constraint {{ pgshift_ident(key.name) }}
                            foreign key (
                                {%- for column in key.columns -%}
                                    {{ pgshift_ident(column) }}
                                    {{- ', ' if not loop.last }}
                                {%- endfor -%}
                            )
                            references {{ parent }} (
                                {%- for column in key.to_columns -%}
                                    {{ pgshift_ident(column) }}
                                    {{- ', ' if not loop.last }}
                                {%- endfor -%}
                            ) {{ key.get('options', '') }};
                    exception
                        when foreign_key_violation or invalid_foreign_key
                            then null;
                    end;
                end if;
            {%- endfor %}
            end if;
        end
    {%- endset -%}
    {{ return([pgshift_do(body | trim)]) }}
{% endmacro %}
