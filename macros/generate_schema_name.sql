{# Schemas are exactly the names dbt_project.yml gives: raw, public. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if pgshift_is_final_model(node) and var('pgshift_docs', false) -%}
        {#- Final tables, for the lineage site (`dbt docs generate` through
            `python loader/run.py`, which sets the var): where the
            application reads them, with their keys and statistics. A
            change of vars makes dbt parse again, so the next build puts
            them back in the build schema. -#}
        {{ pgshift_final_schema() }}
    {%- elif pgshift_is_final_model(node) -%}
        {#- Final tables: built in the build schema, published to the final
            schema (public), the one the app reads. -#}
        {{ pgshift_build_schema() }}
    {%- elif custom_schema_name is none -%}
        {#- Everything else without a schema of its own (tests, and a final
            model before dbt has read its YAML) uses the profile's. -#}
        {{ target.schema }}
    {%- else -%}
        {#- Staging views: the folder's schema as named, not prefixed. -#}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
