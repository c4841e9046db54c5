{# Create every extension of the source that the target offers. #}
{#- An application calls its extensions' functions and operators (pgcrypto's
    crypt(), fuzzystrmatch's levenshtein(), pg_trgm's similarity()) in its
    own queries, where the catalog cannot see them: so every extension of
    the source (pgshift_source_extensions(), written by scaffold) is created
    in its source schema, not only those a migrated column, default, check,
    index or function needs. One the target does not offer
    (pg_available_extensions), or this role may not create, is left with a
    warning; the report lists every extension of the source missing on the
    target. The extensions a migrated object needs are created again where
    they are needed, and fail the build there when they cannot be. -#}
{% macro pgshift_create_extensions() %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for name, schema in pgshift_source_extensions() -%}
        {%- set create = pgshift_extension_ddl(name, schema, cascade=true) -%}
        {%- set body -%}
            begin
                if not exists (select 1 from pg_extension
                               where extname = {{ pgshift_literal(name) }})
                   and exists (select 1 from pg_available_extensions
                               where name = {{ pgshift_literal(name) }}) then
                    execute {{ pgshift_literal(create) }};
                end if;
            exception when others then
                raise warning 'pgshift: extension % of the source was not created on the target: %',
                    {{ pgshift_literal(name) }}, sqlerrm;
            end
        {%- endset -%}
        {%- do statements.append(pgshift_do(body | trim)) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}
