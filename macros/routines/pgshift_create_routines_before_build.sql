{# on-run-start: create the source's routines before the tables, if needed. #}
{#- When a default, generated column, check or index of a final table calls
    one of the schema's functions (pgshift_routines_before_build, written
    by scaffold), the function must exist before its table is built: a
    `dbt build` or `dbt run` then creates those routines (marked
    before_build: the ones called, and the ones they call) in the final
    schema first, as the publish would (and the publish replaces them
    again, unchanged, and creates the others); then the domains' checks
    and defaults that call them (pgshift_finish_domains). These routines stay on the target if the
    build then fails; the final tables do not change. -#}
{% macro pgshift_create_routines_before_build() %}
    {%- if execute and pgshift_is_build() and pgshift_routines_before_build()
            and not var('pgshift_docs', false) -%}
    {%- set registry = pgshift_ident(
        var('state_schema'), var('routines_table', 'built_routines')) -%}
    {#- Only those the tables and domains need (and those they call): the
        publish creates the others once the tables are in, as one taking a
        table's row type needs. -#}
    {%- set routines = [] -%}
    {%- for routine in pgshift_source_routines(
            pgshift_ident(pgshift_final_schema()))
            if routine.get('before_build', true) -%}
        {%- do routines.append(routine) -%}
    {%- endfor -%}
    {%- set body -%}
declare
    previous text := current_setting('check_function_bodies');
    failure text;
    present boolean;
begin
    perform set_config('check_function_bodies', 'off', true);
{{ pgshift_create_routines(routines, registry) }}
    perform set_config('check_function_bodies', previous, true);
end
    {%- endset -%}
    {{ pgshift_routines_registry(registry) }};
    {{ pgshift_do(body) }}
    {%- for statement in pgshift_finish_domains() %};
    {{ statement }}
    {%- endfor %}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
