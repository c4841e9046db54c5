{# Make an identity column GENERATED ALWAYS once the existing ids are in. #}
{% macro pgshift_set_identity_always(column) %}
    alter table {{ this }}
        alter column {{ adapter.quote(column) }} set generated always
{% endmacro %}
