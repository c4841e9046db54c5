{# Rows whose combination of columns is not unique (NULLs never collide). #}
{% test pgshift_unique_combination(model, columns) %}

with

keyed as (

    select
        {% for column in columns -%}
        {{ adapter.quote(column) }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}
    where
        {% for column in columns -%}
        {{ adapter.quote(column) }} is not null{{ " and" if not loop.last }}
        {% endfor %}

),

duplicated as (

    select
        *,
        count(*) as occurrences
    from keyed
    group by {% for column in columns -%}
        {{ adapter.quote(column) }}{{ ", " if not loop.last }}
    {%- endfor %}
    having count(*) > 1

)

select * from duplicated

{% endtest %}
