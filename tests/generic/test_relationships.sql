{# dbt's relationships test, answered from the catalog when it can be: a
   validated, enabled foreign key from exactly this column to exactly that
   field (added by the child's post-hook) means PostgreSQL refuses orphans,
   and the scan below is skipped. Without one (a key left out for orphans,
   a parent that is a view onto a published table) the rows are scanned as
   dbt does. #}
{% test relationships(model, column_name, to, field) %}
with

child as (

    select {{ column_name }} as from_field
    from {{ model }}
    where
        {{ column_name }} is not null
        and not {{ pgshift_enforced_foreign_key(model, [column_name], to, [field]) }}

),

parent as (

    select {{ field }} as to_field
    from {{ to }}
    where not {{ pgshift_enforced_foreign_key(model, [column_name], to, [field]) }}

)

select child.from_field
from child
left join parent on child.from_field = parent.to_field
where parent.to_field is null
{% endtest %}
