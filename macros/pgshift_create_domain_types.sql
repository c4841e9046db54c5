{# Create the source's domains in the target schema, after the enum types
   (a domain may be over one), each with its NOT NULL, default and checks. #}
{% macro pgshift_create_domain_types() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for domain in pgshift_source_domains() -%}
        {%- set qualified = adapter.quote(target.schema) ~ "."
            ~ adapter.quote(domain.name) -%}
        {%- set parts = [
            "create domain " ~ qualified ~ " as " ~ domain.base_type
        ] -%}
        {%- if domain.not_null -%}
            {%- do parts.append("not null") -%}
        {%- endif -%}
        {%- if domain.get('default') -%}
            {%- do parts.append("default " ~ domain.default) -%}
        {%- endif -%}
        {%- for check in domain.checks -%}
            {%- do parts.append(
                "constraint " ~ adapter.quote(check[0]) ~ " " ~ check[1]
            ) -%}
        {%- endfor -%}
        {%- do statements.append(
            "do $pgshift$ begin if to_regtype('"
            ~ (qualified | replace("'", "''"))
            ~ "') is null then " ~ (parts | join(" "))
            ~ "; end if; end $pgshift$"
        ) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
