{# pgshift_literal gives back every text exactly, hostile ones included. #}
{#- Each row: the literal the macro makes, and the text it must hold, spelt
    with chr() wherever the character is one SQL or Jinja would read. -#}
with

cases as (

    select *
    from (
        values
        ('plain', {{ pgshift_literal('users') }}, 'users'),
        ('empty', {{ pgshift_literal('') }}, ''),
        ('quote', {{ pgshift_literal("it's") }}, 'it' || chr(39) || 's'),
        ('quotes only', {{ pgshift_literal("''") }}, repeat(chr(39), 2)),
        (
            'backslash',
            {{ pgshift_literal('a\\b\\') }},
            'a' || chr(92) || 'b' || chr(92)
        ),
        (
            'escape-like',
            {{ pgshift_literal("\\n\\t\\'") }},
            chr(92) || 'n' || chr(92) || 't' || chr(92) || chr(39)
        ),
        (
            'dollars',
            {{ pgshift_literal('a$$b') }},
            'a' || repeat(chr(36), 2) || 'b'
        ),
        (
            'dollar tag',
            {{ pgshift_literal('$pgshift$ end') }},
            chr(36) || 'pgshift' || chr(36) || ' end'
        ),
        (
            'comments',
            {{ pgshift_literal("x -- y /* z */ '") }},
            'x ' || repeat(chr(45), 2) || ' y ' || chr(47) || chr(42)
            || ' z ' || chr(42) || chr(47) || ' ' || chr(39)
        ),
        (
            'jinja',
            {{ pgshift_literal('{{ x }} {% if y %}') }},
            repeat(chr(123), 2) || ' x ' || repeat(chr(125), 2) || ' '
            || chr(123) || '% if y %' || chr(125)
        ),
        (
            'control characters',
            {{ pgshift_literal('a\nb\r\tc') }},
            'a' || chr(10) || 'b' || chr(13) || chr(9) || 'c'
        ),
        ('not a string', {{ pgshift_literal(42) }}, '42')
    ) as cases (case_name, rendered, expected)

)

select * from cases
where rendered is distinct from expected
