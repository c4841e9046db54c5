{# In the publish: a standalone sequence a column owns, owned as its table. #}
{#- PostgreSQL links a sequence to a column (OWNED BY) only when both have
    one owner. Before pgshift_publish_sequences links them again, a
    sequence that a replaced table's column owns takes the owner the new
    table has now (the publishing role's, or the one the team gave the
    replaced table, carried over); pgshift_apply_privileges then gives the
    table the source's owner, and ALTER TABLE takes the sequence along. -#}
{% macro pgshift_align_sequence_owners() %}
    {%- set final_schema = pgshift_final_schema() -%}
    {%- set pairs = [] -%}
    {%- for sequence in pgshift_source_sequences()
            if sequence.get('owned_by') -%}
        {%- do pairs.append(
            "(" ~ pgshift_literal(pgshift_ident(final_schema, sequence.name))
            ~ ", " ~ pgshift_literal(
                pgshift_ident(final_schema, sequence.owned_by[0])) ~ ")") -%}
    {%- endfor -%}
    {%- if pairs -%}
    {%- set body -%}
declare
    pair record;
begin
    for pair in
        select s.oid as seq, t.relowner as owner
        from (values {{ pairs | join(', ') }}) as p (seq, tab)
        inner join pg_class as s on s.oid = to_regclass(p.seq)
        inner join pg_class as t on t.oid = to_regclass(p.tab)
        where s.relowner <> t.relowner
    loop
        execute format('alter sequence %s owner to %I',
                       pair.seq::regclass, pg_get_userbyid(pair.owner));
    end loop;
end
    {%- endset -%}
    {{ return(pgshift_do(body)) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
