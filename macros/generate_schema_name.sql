{# Schemas are exactly the names dbt_project.yml gives: raw, staging, public. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if pgshift_is_final_model(node) -%}
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
