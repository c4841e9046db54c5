{# The final models of the project (pgshift_is_final_model), as graph nodes. #}
{#- Called by every final table's post-hook, every checksum test and the
    publish, over every node of the graph: the test of pgshift_is_final_model
    is written here as filters rather than one macro call per node, which
    costs about a hundred times more in dbt's Jinja. -#}
{% macro pgshift_final_models() -%}
    {{ return(graph.nodes.values()
        | selectattr('resource_type', 'equalto', 'model')
        | selectattr('meta.pgshift', 'defined')
        | rejectattr('meta.pgshift', 'none')
        | list) }}
{%- endmacro %}
