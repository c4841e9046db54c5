{# The final models of the project (pgshift_is_final_model), as graph nodes. #}
{#- Called by every final table's post-hook, every checksum test and the
    publish: the test of pgshift_is_final_model is written here as filters
    rather than one macro call per node, which costs about a hundred times
    more in dbt's Jinja, and the list is kept in the graph once made. The
    graph is the one dict of the run's manifest that every node's context
    shares, so the filter runs once a run instead of once a node (about
    10 ms a call at 1,200 nodes: seconds at 300 tables). While parsing
    (no execute) nothing is kept. -#}
{% macro pgshift_final_models() -%}
    {%- set kept = graph.get('pgshift_final_models') if execute else none -%}
    {%- if kept is none -%}
        {%- set kept = graph.nodes.values()
            | selectattr('resource_type', 'equalto', 'model')
            | selectattr('meta.pgshift', 'defined')
            | rejectattr('meta.pgshift', 'none')
            | list -%}
        {%- if execute -%}
            {%- do graph.update({'pgshift_final_models': kept}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(kept) }}
{%- endmacro %}
