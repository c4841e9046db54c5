{# Rows whose combination of columns is not unique (NULLs never collide). No
   scan when a valid unique index has exactly these key columns. #}
{% test pgshift_unique_combination(model, columns) %}

with

keyed as (

    select
        {% for column in columns -%}
        {{ pgshift_ident(column) }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}
    where
        {% for column in columns -%}
        {{ pgshift_ident(column) }} is not null and
        {% endfor %}
        not {{ pgshift_enforced_unique(model, columns) }}

),

duplicated as (

    select
        *,
        count(*) as occurrences
    from keyed
    group by {% for column in columns -%}
        {{ pgshift_ident(column) }}{{ ", " if not loop.last }}
    {%- endfor %}
    having count(*) > 1

)

select * from duplicated

{% endtest %}
