{# Schemas are exactly the names dbt_project.yml gives: raw, staging, public. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none and node.resource_type == 'model' -%}
        {#- Final tables: built in the build schema, published to the
            profile's schema (public), the one the app reads. -#}
        {{ pgshift_build_schema() }}
    {%- elif custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {#- Staging views: the folder's schema as named, not prefixed. -#}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
