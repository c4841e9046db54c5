{# The statements creating one source view as pgshift_source_views() says. #}
{#- The view or materialized view with its reloptions, populated or not as
    on the source, then a materialized view's indexes and the comments.
    Its names resolve through the caller's search_path. Arguments: the
    view's entry of pgshift_source_views(), the relation to create, its
    SQL (the model's). -#}
{% macro pgshift_view_statements(spec, relation, sql) -%}
create {{ spec.kind }} {{ relation }}
{%- if spec.options %} with ({{ spec.options | join(', ') }}){% endif %}
as
{{ sql }}
{%- if spec.kind == 'materialized view' %}
with {{ '' if spec.populated else 'no ' }}data{% endif %};
{%- for index in spec.indexes %}
create {{ 'unique ' if index.unique }}index {{ pgshift_ident(index.name) }}
    on {{ relation }} using {{ index.using }};
{%- endfor %}
{%- if spec.comment is not none %}
comment on {{ spec.kind }} {{ relation }}
    is {{ pgshift_literal(spec.comment) }};
{%- endif %}
{%- for column, comment in spec.column_comments.items() %}
comment on column {{ relation }}.{{ pgshift_ident(column) }}
    is {{ pgshift_literal(comment) }};
{%- endfor %}
{%- endmacro %}
