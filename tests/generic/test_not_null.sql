{# dbt's not_null test, answered from the catalog when it can be: a column
   declared NOT NULL holds no NULL, and the scan below is skipped. #}
{% test not_null(model, column_name) %}
select {{ column_name }}
from {{ model }}
where
    {{ column_name }} is null
    and not {{ pgshift_enforced_not_null(model, column_name) }}
{% endtest %}
