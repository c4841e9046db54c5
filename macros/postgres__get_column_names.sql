{# The column list of a contracted table's insert (and of the select that
   feeds it): dbt's default, minus generated columns, whose values
   PostgreSQL computes from the renamed expression in the contract. #}
{% macro postgres__get_column_names() %}
    {%- set names = [] -%}
    {%- for key, col in model['columns'].items() -%}
        {%- set generated = [] -%}
        {%- for constraint in col.get('constraints', []) -%}
            {%- if constraint.get('type') == 'custom'
                and (constraint.get('expression') or '').startswith(
                    'generated always as (') -%}
                {%- do generated.append(true) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not generated -%}
            {%- do names.append(
                pgshift_ident(col['name']) if col.get('quote') else col['name']
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ names | join(", ") }}
{%- endmacro %}
