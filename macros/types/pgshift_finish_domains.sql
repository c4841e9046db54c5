{# Add to the domains what calls the schema's functions, once those exist. #}
{#- A domain's check or default that calls one of the schema's functions is
    left out when the domain is created (the function may take the domain
    as an argument); pgshift_create_routines_before_build adds it here,
    after the routines, unless the domain has it. -#}
{% macro pgshift_finish_domains() %}
    {%- set statements = [] -%}
    {%- for domain in pgshift_source_domains() -%}
        {%- set type = pgshift_ident(target.schema, domain.name) -%}
        {%- for check in domain.checks
                if check[0] in domain.get('late_checks', []) -%}
            {%- set body -%}
                begin
                    if not exists (select 1 from pg_constraint
                                   where contypid = {{ pgshift_literal(type) }}::regtype
                                     and conname = {{ pgshift_literal(check[0]) }}) then
                        alter domain {{ type }} add constraint
                            {{ pgshift_ident(check[0]) }} {{ check[1] }};
                    end if;
                end
            {%- endset -%}
            {%- do statements.append(pgshift_do(body | trim)) -%}
        {%- endfor -%}
        {%- if domain.get('late_default') -%}
            {%- do statements.append("alter domain " ~ type ~ " set default "
                ~ domain.default) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
