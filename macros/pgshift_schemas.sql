{# The schema the application reads: the var final_schema (which
   `python loader/run.py` sets), else the profile's schema. #}
{% macro pgshift_final_schema() -%}
    {{ return(var('final_schema', target.schema)) }}
{%- endmacro %}

{# The schema each build fills before anything is published. #}
{#- Final models are built, keyed, indexed and tested here; only when the
    whole run succeeded does pgshift_publish move them into the final schema,
    in one transaction. Between runs it holds a view onto every published
    table, so refs, tests and docs read what the application reads. -#}
{% macro pgshift_build_schema() -%}
    {{ return(var('build_schema', pgshift_final_schema() ~ '_pgshift_build')) }}
{%- endmacro %}

{# Whether this dbt command builds models (and so may publish them). #}
{% macro pgshift_is_build() -%}
    {{ return(invocation_args_dict.get('which') in ['build', 'run']) }}
{%- endmacro %}

{# The final models: those the scaffold marked with meta.pgshift. #}
{% macro pgshift_final_models() -%}
    {%- set nodes = [] -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.meta.get('pgshift') -%}
        {%- do nodes.append(node) -%}
    {%- endfor -%}
    {{ return(nodes) }}
{%- endmacro %}

{# The final models by name. #}
{% macro pgshift_final_models_by_name() -%}
    {%- set models = {} -%}
    {%- for node in pgshift_final_models() -%}
        {%- do models.update({node.name: node}) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}

{# The final tables in the build schema: (node, relation) of each. #}
{#- During a build these are the tables the run rebuilt; the other models
    are views there onto their published tables, or absent. -#}
{% macro pgshift_built_tables() -%}
    {%- set built = [] -%}
    {%- for node in pgshift_final_models() -%}
        {%- set relation = adapter.get_relation(
            target.database, pgshift_build_schema(), node.alias) -%}
        {%- if relation is not none and relation.is_table -%}
            {%- do built.append((node, relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(built) }}
{%- endmacro %}
