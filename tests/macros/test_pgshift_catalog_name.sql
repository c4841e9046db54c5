{# pgshift_catalog_name spells a YAML column name as the catalog does. #}
with

cases as (

    select *
    from (
        values
        ('plain', {{ pgshift_literal(pgshift_catalog_name('id')) }}, 'id'),
        (
            'unquoted mixed case',
            {{ pgshift_literal(pgshift_catalog_name('userId')) }},
            'userId'
        ),
        (
            'quoted',
            {{ pgshift_literal(pgshift_catalog_name('"userId"')) }},
            'userId'
        ),
        (
            'doubled quotes',
            {{ pgshift_literal(pgshift_catalog_name('"a""b"')) }},
            'a' || chr(34) || 'b'
        ),
        (
            'spaces around',
            {{ pgshift_literal(pgshift_catalog_name('  "x y"  ')) }},
            'x y'
        ),
        (
            'lone quote',
            {{ pgshift_literal(pgshift_catalog_name('"')) }},
            chr(34)
        ),
        (
            'quote inside',
            {{ pgshift_literal(pgshift_catalog_name('a"b')) }},
            'a' || chr(34) || 'b'
        )
    ) as cases (case_name, rendered, expected)

)

select * from cases
where rendered is distinct from expected
