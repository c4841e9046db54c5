{# The keys, checks, indexes and foreign keys the final models declare, and
   the source's policies, as "table.name" ("table." for row-level security
   on): what pgshift builds on its tables itself. #}
{% macro pgshift_declared_names() %}
    {%- set names = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set meta = node.meta.pgshift -%}
        {%- for item in meta.get('keys', []) + meta.get('indexes', [])
                + meta.get('foreign_keys', [])
                + meta.get('unvalidated_checks', [])
                + meta.get('published_checks', []) -%}
            {%- do names.append(node.alias ~ '.' ~ item.name) -%}
        {%- endfor -%}
        {%- for constraint in node.constraints if constraint.name -%}
            {%- do names.append(node.alias ~ '.'
                ~ pgshift_catalog_name(constraint.name)) -%}
        {%- endfor -%}
        {%- do names.extend(pgshift_partition_declared_names(node)) -%}
    {%- endfor -%}
    {#- The source's row-level security and policies (macros/views/). -#}
    {%- set source = pgshift_source_policies() -%}
    {%- for table, state in source.row_security.items()
            if state[0] or state[1] -%}
        {%- do names.append(table ~ '.') -%}
    {%- endfor -%}
    {%- for policy in source.policies -%}
        {%- do names.append(policy.table ~ '.' ~ policy.name) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}
