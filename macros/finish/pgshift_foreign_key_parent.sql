{# The quoted parent table of a final model's foreign key in a schema. #}
{#- The final model it names (key.to) in that schema, or, for a key into a
    table outside the migration that the target holds (key.to_schema, as
    Supabase's auth.users), that table in its own schema. models: the final
    models by name (pgshift_final_models_by_name). -#}
{% macro pgshift_foreign_key_parent(schema, key, models) -%}
    {%- if key.get('to_schema') -%}
        {{ return(pgshift_ident(key.to_schema, key.to)) }}
    {%- endif -%}
    {{ return(pgshift_ident(schema, models[key.to].alias)) }}
{%- endmacro %}
