{# Create the source's domains in the target schema, after the enum types. #}
{#- A domain may be over an enum type. Each keeps its collation (the
    source's own collations are created before it), NOT NULL, default and
    named checks (the base type, the default and the check expressions are
    SQL, pasted as they are); one statement per domain, which leaves a type
    of that name alone. The extensions the domains and the composite types
    need are created first. A check or default calling one of the schema's
    functions is added once the routines are (pgshift_finish_domains). The
    domains are pgshift_source_domains(), written by scaffold. -#}
{% macro pgshift_create_domain_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {#- First the extensions the domains need (citext under an e-mail
        domain), in their source schema: a role that may not create one
        gets the statement to run. -#}
    {%- set extensions = [] -%}
    {%- for type in pgshift_source_domains() + pgshift_source_composites() -%}
        {%- for extension in type.get('extensions', [])
                if extension not in extensions -%}
            {%- do extensions.append(extension) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for name, schema in extensions -%}
        {%- set create = pgshift_extension_ddl(name, schema) -%}
        {%- set body -%}
            begin
                if not exists (select 1 from pg_extension
                               where extname = {{ pgshift_literal(name) }}) then
                    execute {{ pgshift_literal(create) }};
                end if;
            exception when insufficient_privilege then
                raise exception using message = format(
                    'pgshift: the source''s types need extension %s on the '
                    'target, and this role may not create it: run %s as a role '
                    'that may, then build again', {{ pgshift_literal(name) }},
                    {{ pgshift_literal(create | trim) }});
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {%- for domain in pgshift_source_domains() -%}
        {%- set type = pgshift_ident(target.schema, domain.name) -%}
        {%- set late = domain.get('late_checks', []) -%}
        {%- set create -%}
            create domain {{ type }} as {{ domain.base_type }}
            {%- if domain.get('collation') %}
                collate {{ domain.collation }}
            {%- endif %}
            {%- if domain.not_null %} not null{% endif %}
            {%- if domain.get('default') and not domain.get('late_default') %}
                default {{ domain.default }}
            {%- endif %}
            {%- for check in domain.checks if check[0] not in late %}
                constraint {{ pgshift_ident(check[0]) }} {{ check[1] }}
            {%- endfor %}
        {%- endset -%}
        {%- do statements.append(pgshift_create_type(type, create)) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
