{# Rows whose multi-column key has no parent row (MATCH SIMPLE: a key with a
   NULL part references nothing and is never an orphan). No scan when a
   validated foreign key maps exactly these columns onto those fields. #}
{% test pgshift_relationships(model, columns, to, fields) %}

with

children as (

    select * from {{ model }}
    where
        {% for column in columns -%}
        {{ pgshift_ident(column) }} is not null and
        {% endfor %}
        not {{ pgshift_enforced_foreign_key(model, columns, to, fields) }}

),

orphans as (

    select children.*
    from children
    where not exists (
        select 1
        from {{ to }} as parent
        where
            not {{ pgshift_enforced_foreign_key(model, columns, to, fields) }} and
            {% for column in columns -%}
            parent.{{ pgshift_ident(fields[loop.index0]) }}
            = children.{{ pgshift_ident(column) }}{{ " and" if not loop.last }}
            {% endfor %}
    )

)

select * from orphans

{% endtest %}
