{# SQL: a sequence's settings as CREATE/ALTER SEQUENCE clauses. #}
{% macro pgshift_sequence_options(sequence) -%}
    as {{ sequence.data_type }}
    increment by {{ sequence.increment | int }}
    minvalue {{ sequence.minimum | int }}
    maxvalue {{ sequence.maximum | int }}
    start with {{ sequence.start | int }}
    cache {{ sequence.cache | int }}
    {{ "cycle" if sequence.cycle else "no cycle" }}
{%- endmacro %}
