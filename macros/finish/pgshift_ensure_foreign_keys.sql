{# Add every declared foreign key that the tables in a schema do not have. #}
{#- Most keys are added by their child's post-hook (pgshift_finish_table).
    This adds, on-run-end in the build schema, the ones that could not be
    dbt edges (cycles) or whose parent was built after the child, and in
    the publish, in the final schema, the keys that a replaced table's
    `drop ... cascade` removed from children the run did not rebuild.
    Existence is checked when the statements run, so they can follow the
    moves of the publish in one transaction. The final models are read
    from the graph once, not once per model. -#}
{% macro pgshift_ensure_foreign_keys(schema) %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- set models = pgshift_final_models_by_name() -%}
    {%- for node in models.values() -%}
        {%- do statements.extend(
            pgshift_add_foreign_keys(schema, node, models)) -%}
        {%- do statements.extend(
            pgshift_add_partition_foreign_keys(schema, node, models)) -%}
    {%- endfor -%}
    {{ return(statements | join(";\n")) }}
    {%- endif -%}
{% endmacro %}
