{# SQL: a string literal holding a text exactly, single quotes doubled. #}
{#- Every value pasted into SQL as a string goes through here. A backslash
    stays an ordinary character: standard_conforming_strings is on, as
    PostgreSQL has it by default. Inside a DO body, pgshift_do quotes the
    body with a tag that no literal in it can end. -#}
{% macro pgshift_literal(text) -%}
    '{{ (text | string).replace("'", "''") }}'
{%- endmacro %}
