{# The statements that add the checks a model's contract cannot hold. #}
{#- From meta.pgshift.unvalidated_checks: a check the source added NOT VALID
    (rows older than it may break it), or NO INHERIT, is not in the model's
    contract; it is added here, as on the source (its options), once the
    rows are in, unless a constraint of that name is there. -#}
{% macro pgshift_ensure_checks(relation, node) %}
    {%- set statements = [] -%}
    {%- for check in node.meta.pgshift.get('unvalidated_checks', []) -%}
        {%- set body -%}
            begin
                if {{ pgshift_constraint_missing_sql(relation, check.name) }} then
                    alter table {{ relation }} add constraint
                        {{ pgshift_ident(check.name) }} check {{ check.expression }}
                        {{ check.get('options', 'not valid') }};
                end if;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
