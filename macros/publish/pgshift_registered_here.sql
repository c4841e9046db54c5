{# A condition: the registry row belongs to this run's final schema. #}
{#- One target may hold several final schemas, each published by a run of
    its own source schema: a run replaces, takes back and counts as its own
    only its final schema's entries. on-run-start gives an older registry
    its column first (pgshift_key_registries); read through to_jsonb, a row
    without one is no run's. loader/pgshift/manifest.py's REGISTERED_HERE
    is the loader's reading. Argument: the registry's alias in the query. -#}
{% macro pgshift_registered_here(alias) -%}
    to_jsonb({{ alias }}) ->> 'final_schema'
        = {{ pgshift_literal(pgshift_final_schema()) }}
{%- endmacro %}
