{# The statement giving a final table the source table's settings. #}
{#- From meta.pgshift.settings (loader/pgshift/mapping.py, table_settings):
    storage parameters, replica identity, the clustering index, and the
    columns' statistics targets, storage and compression, as one ALTER
    TABLE once the keys and indexes it names are there. -#}
{% macro pgshift_ensure_settings(relation, node) %}
    {%- set actions = node.meta.pgshift.get('settings', []) -%}
    {%- if actions -%}
        {{ return(["alter table " ~ relation ~ " " ~ (actions | join(", "))]) }}
    {%- endif -%}
    {{ return([]) }}
{% endmacro %}
