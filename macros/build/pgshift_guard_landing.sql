{# Refuse to build from a landing schema another source schema filled. #}
{#- Several source schemas may be migrated into one target, a run each into
    a final schema of its own, through one landing schema: the last load
    holds one schema's rows. Models scaffolded from another schema, built
    from them, would pass their checks (the manifest holds the same load's
    figures) and publish that schema's rows as theirs. The dbt source
    records the schema scaffold read (meta.pgshift.source_schema), the
    manifest the schema each load read; a manifest of an older pgshift
    records none, and is not refused. -#}
{% macro pgshift_guard_landing() %}
    {%- if execute and not var('pgshift_docs', false) -%}
    {%- set scaffolded = namespace(schema=none) -%}
    {%- for source in graph.sources.values()
            if (source.source_meta or {}).get('pgshift') -%}
        {%- set scaffolded.schema = source.source_meta.pgshift.source_schema -%}
    {%- endfor -%}
    {%- set manifest = adapter.get_relation(
        target.database, var('state_schema'), var('manifest_table')) -%}
    {%- if scaffolded.schema is not none and manifest is not none -%}
        {%- set rows = run_query(
            "select distinct to_jsonb(m) ->> 'source_schema' from "
            ~ manifest ~ " as m") -%}
        {%- set loaded = [] -%}
        {%- for row in rows
                if row[0] is not none and row[0] != scaffolded.schema -%}
            {%- do loaded.append(row[0]) -%}
        {%- endfor -%}
        {%- if loaded -%}
            {{ exceptions.raise_compiler_error(
                "pgshift: nothing was built: the landing schema "
                ~ var('raw_schema') ~ " holds the last load, of source schema "
                ~ (loaded | join(', ')) ~ ", and these models were scaffolded "
                ~ "from source schema " ~ scaffolded.schema ~ ": built from it, "
                ~ "they would publish the other schema's rows as theirs. Next: "
                ~ "`python loader/run.py --schemas " ~ scaffolded.schema
                ~ ("" if pgshift_final_schema() == 'public'
                   else " --final-schema " ~ pgshift_final_schema())
                ~ " migrate` (it loads this schema, then builds), or scaffold "
                ~ "the schema that was loaded"
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
