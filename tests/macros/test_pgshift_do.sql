{# pgshift_do quotes a body with a dollar tag that the body does not hold. #}
with

cases as (

    select *
    from (
        values
        (
            'plain',
            {{ pgshift_literal(pgshift_do('begin null; end')) }},
            'do $pgshift$ begin null; end $pgshift$'
        ),
        (
            'holds the tag',
            {{ pgshift_literal(pgshift_do("perform '$pgshift$'")) }},
            'do $pgshift1$ perform ''$pgshift$'' $pgshift1$'
        ),
        (
            'holds the next tags',
            {{ pgshift_literal(pgshift_do('$pgshift$$pgshift1$ $pgshift3$')) }},
            'do $pgshift2$ $pgshift$$pgshift1$ $pgshift3$ $pgshift2$'
        ),
        (
            'other dollars',
            {{ pgshift_literal(pgshift_do('select $$a$$, $1')) }},
            'do $pgshift$ select $$a$$, $1 $pgshift$'
        )
    ) as cases (case_name, rendered, expected)

)

select * from cases
where rendered is distinct from expected
