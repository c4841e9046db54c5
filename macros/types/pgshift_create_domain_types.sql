{# Create the source's domains in the target schema, after the enum types. #}
{#- A domain may be over an enum type. Each keeps its NOT NULL, default and
    named checks (the base type, the default and the check expressions are
    SQL, pasted as they are); one statement per domain, which leaves a type
    of that name alone. The domains are pgshift_source_domains(), written
    by scaffold. -#}
{% macro pgshift_create_domain_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for domain in pgshift_source_domains() -%}
        {%- set type = pgshift_ident(target.schema, domain.name) -%}
        {%- set body -%}
            begin
                if to_regtype({{ pgshift_literal(type) }}) is null then
                    create domain {{ type }} as {{ domain.base_type }}
                    {%- if domain.not_null %} not null{% endif %}
                    {%- if domain.get('default') %}
                        default {{ domain.default }}
                    {%- endif %}
                    {%- for check in domain.checks %}
                        constraint {{ pgshift_ident(check[0]) }} {{ check[1] }}
                    {%- endfor %};
                end if;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
