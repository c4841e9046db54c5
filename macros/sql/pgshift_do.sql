{# SQL: a DO statement running a PL/pgSQL body, whatever text it holds. #}
{#- The body is dollar-quoted with the first of $pgshift$, $pgshift1$,
    $pgshift2$, ... that does not occur in it (as pg_dump chooses its
    tags), so a name or a label holding `$pgshift$` cannot end it early. -#}
{% macro pgshift_do(body) -%}
    {%- set text = body | string -%}
    {%- set chosen = namespace(tag='$pgshift$') -%}
    {%- for n in range(1, text.count('$') + 2) -%}
        {%- if chosen.tag in text -%}
            {%- set chosen.tag = '$pgshift' ~ n ~ '$' -%}
        {%- endif -%}
    {%- endfor -%}
    do {{ chosen.tag }} {{ text }} {{ chosen.tag }}
{%- endmacro %}
