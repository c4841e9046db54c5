{# pgshift_ident names exactly the given parts, whatever they hold. #}
{#- Each row: the identifier the macro makes, read back by PostgreSQL's own
    parser (parse_ident), and the parts it must name. -#}
with

cases as (

    select *
    from (
        values
        ('plain', {{ pgshift_literal(pgshift_ident('id')) }}, array['id']),
        (
            'mixed case',
            {{ pgshift_literal(pgshift_ident('userId')) }},
            array['userId']
        ),
        (
            'double quote',
            {{ pgshift_literal(pgshift_ident('a"b"')) }},
            array['a' || chr(34) || 'b' || chr(34)]
        ),
        (
            'single quote',
            {{ pgshift_literal(pgshift_ident("it's")) }},
            array['it' || chr(39) || 's']
        ),
        (
            'dots and spaces',
            {{ pgshift_literal(pgshift_ident(' a.b ')) }},
            array[' a.b ']
        ),
        (
            'qualified',
            {{ pgshift_literal(pgshift_ident('public', 'users')) }},
            array['public', 'users']
        ),
        (
            'qualified, hostile',
            {{ pgshift_literal(pgshift_ident('s"', '$pgshift$', 'x.y')) }},
            array['s' || chr(34), chr(36) || 'pgshift' || chr(36), 'x.y']
        )
    ) as cases (case_name, rendered, expected)

)

select * from cases
where parse_ident(rendered) is distinct from expected
