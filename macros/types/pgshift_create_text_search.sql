{# Create the source's text search dictionaries and configurations. #}
{#- From pgshift_source_text_search(), written by scaffold: each dictionary
    with its template and options, then each configuration with its parser
    and, per token type, its dictionaries in order, as pg_dump makes them.
    A name ["", x] is the migrated schema's own x, here the profile's
    schema. One of that name already there is left alone. After the
    extensions (unaccent's dictionary and template are an extension's),
    before the tables: a generated tsvector column or an index names a
    configuration (`to_tsvector('unaccent_en', ...)`). -#}
{% macro pgshift_create_text_search() %}
    {%- if execute -%}
    {%- set source = pgshift_source_text_search() -%}
    {%- set statements = [] -%}
    {%- set schema = "to_regnamespace("
        ~ pgshift_literal(pgshift_ident(target.schema)) ~ ")" -%}
    {%- for name, definition in source.dictionaries.items() -%}
        {%- set dictionary = pgshift_ident(target.schema, name) -%}
        {%- set options = (", " ~ definition[1]) if definition[1] else "" -%}
        {%- do statements.append(pgshift_do(
            "begin if not exists (select 1 from pg_ts_dict where dictname = "
            ~ pgshift_literal(name) ~ " and dictnamespace = " ~ schema
            ~ ") then create text search dictionary " ~ dictionary
            ~ " (template = " ~ pgshift_text_search_name(definition[0])
            ~ options ~ "); end if; end")) -%}
    {%- endfor -%}
    {%- for name, definition in source.configurations.items() -%}
        {%- set configuration = pgshift_ident(target.schema, name) -%}
        {%- set body = ["create text search configuration " ~ configuration
            ~ " (parser = " ~ pgshift_ident('pg_catalog', definition[0])
            ~ ")"] -%}
        {%- for token, dictionaries in definition[1] -%}
            {%- set names = [] -%}
            {%- for dictionary in dictionaries -%}
                {%- do names.append(pgshift_text_search_name(dictionary)) -%}
            {%- endfor -%}
            {%- do body.append("alter text search configuration "
                ~ configuration ~ " add mapping for " ~ pgshift_ident(token)
                ~ " with " ~ (names | join(", "))) -%}
        {%- endfor -%}
        {%- do statements.append(pgshift_do(
            "begin if not exists (select 1 from pg_ts_config where cfgname = "
            ~ pgshift_literal(name) ~ " and cfgnamespace = " ~ schema
            ~ ") then " ~ (body | join("; ")) ~ "; end if; end")) -%}
    {%- endfor -%}
    {{ statements | join(";\n") }}
    {%- endif -%}
{% endmacro %}

{# A text search object's name from scaffold: [schema, name], "" the
   profile's schema. #}
{% macro pgshift_text_search_name(name) -%}
    {{ return(pgshift_ident(name[0] or target.schema, name[1])) }}
{%- endmacro %}
