{# Comments on a built relation and its columns: dbt's, minus a catalog read. #}
{#- dbt-postgres reads the relation's columns from information_schema twice
    (to warn of documented columns the relation lacks, then to comment only
    on those it has) before it comments on them. A model whose contract is
    enforced has exactly its declared columns (dbt refuses to build it
    otherwise), so for it the comments are written straight from the
    declaration, in one statement, and the reads, about 10 ms a final
    table, are left out. Every other relation gets dbt's own. -#}
{% macro postgres__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- if not (model.contract and model.contract.enforced) -%}
        {%- do return(dbt.default__persist_docs(
            relation, model, for_relation, for_columns)) -%}
    {%- endif -%}
    {%- if for_relation and config.persist_relation_docs()
            and model.description -%}
        {%- do run_query(
            alter_relation_comment(relation, model.description)) -%}
    {%- endif -%}
    {%- if for_columns and config.persist_column_docs() and model.columns -%}
        {%- set statements = [] -%}
        {%- for name, column in model.columns.items()
                if column.description -%}
            {%- do statements.append(
                'comment on column ' ~ relation ~ '.'
                ~ (adapter.quote(name) if column.quote else name)
                ~ ' is ' ~ postgres_escape_comment(column.description)) -%}
        {%- endfor -%}
        {%- if statements -%}
            {%- do run_query(statements | join(';\n')) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
