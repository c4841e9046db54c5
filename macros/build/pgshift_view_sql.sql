{# The statement that makes a build schema's view onto a published table. #}
{% macro pgshift_view_sql(view, published) -%}
    {{ return("create view " ~ view ~ " as select * from " ~ published) }}
{%- endmacro %}
