{# Whether a node is a final model: a model that carries meta.pgshift. #}
{#- The one definition every macro uses (generate_schema_name, the finishing
    post-hook, the build and the publish). meta.pgshift comes from the
    model's YAML; dbt calls generate_schema_name once before it reads the
    YAML (without meta) and again after, with it, so the schema it keeps is
    the one this test gives. The scaffold writes meta.pgshift (its shape:
    macros/_macros.yml) on every model of models/final/, the folder whose
    config in dbt_project.yml makes them tables with the finishing
    post-hook. Sources carry meta.pgshift too; they are not models. -#}
{% macro pgshift_is_final_model(node) -%}
    {{ return(
        node is not none
        and node.resource_type == 'model'
        and (node.meta or {}).get('pgshift') is not none
    ) }}
{%- endmacro %}
