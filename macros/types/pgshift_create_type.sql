{# Create a type in the target schema unless one of its name is there. #}
{#- `create` is the whole CREATE TYPE or CREATE DOMAIN statement. -#}
{% macro pgshift_create_type(type, create) %}
    {%- set body -%}
        begin
            if to_regtype({{ pgshift_literal(type) }}) is null then
                {{ create | trim }};
            end if;
        end
    {%- endset -%}
    {{ return(pgshift_do(body | trim)) }}
{% endmacro %}
