{# dbt's unique test, answered from the catalog when it can be: a valid unique
   index on exactly this column (the final table's key) means PostgreSQL
   refuses duplicates, and the scan below is skipped. Without one (a key left
   out for duplicates, a view) the rows are scanned as dbt does. #}
{% test unique(model, column_name) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where
    {{ column_name }} is not null
    and not {{ pgshift_enforced_unique(model, [column_name]) }}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
