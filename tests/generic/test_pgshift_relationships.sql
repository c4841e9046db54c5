{# Rows whose multi-column key has no parent row (MATCH SIMPLE: a key with a
   NULL part references nothing and is never an orphan). #}
{% test pgshift_relationships(model, columns, to, fields) %}

with

children as (

    select * from {{ model }}
    where
        {% for column in columns -%}
        {{ adapter.quote(column) }} is not null{{ " and" if not loop.last }}
        {% endfor %}

),

orphans as (

    select children.*
    from children
    where not exists (
        select 1
        from {{ to }} as parent
        where
            {% for column in columns -%}
            parent.{{ adapter.quote(fields[loop.index0]) }}
            = children.{{ adapter.quote(column) }}{{ " and" if not loop.last }}
            {% endfor %}
    )

)

select * from orphans

{% endtest %}
