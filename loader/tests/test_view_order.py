"""Which view definitions return values that depend on the order rows are read.

Two servers holding the same rows read them in different orders, so a view
aggregating without ORDER BY may return other values on the target with
nothing lost; ``verify`` names the construct instead of failing on it. The
end-to-end case (a view whose values change with the target's physical row
order) is in ``test_views.py``.
"""

from __future__ import annotations

import pytest

from pgshift.verify.views import order_dependence

AGGREGATES = {"string_agg", "array_agg", "group_concat", "count", "sum"}


@pytest.mark.parametrize(
    ("definition", "reason"),
    [
        ("select a, string_agg(b, ',') from t group by a", "aggregate string_agg"),
        ("select group_concat(b) from t", "aggregate group_concat"),
        ("select a, string_agg(b, ',' order by b) from t group by a", None),
        ("select a, count(*), sum(b) from t group by a", None),
        ("select row_number() over () from t", "window function row_number"),
        ("select row_number() over (partition by a) from t", "window function"),
        ("select row_number() over (order by a) from t", None),
        ("select row_number() over w from t window w as (order by a)", None),
        ("select count(*) over (partition by a) from t", None),
        ("select a from t limit 3", "LIMIT or OFFSET"),
        ("select a from t order by a limit 3", None),
        ("select distinct on (a) a, b from t", "DISTINCT ON"),
        ("select distinct on (a) a, b from t order by a, b", None),
        ("select distinct a from t", None),
        ("select percentile_cont(0.5) within group (order by a) from t", None),
        ("select (select string_agg(b, ',') from u) from t", "aggregate string_agg"),
    ],
)
def test_order_dependence(definition: str, reason: str | None) -> None:
    found = order_dependence(definition, AGGREGATES)
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason), found


def test_an_unknown_function_is_no_aggregate_unless_the_target_says_so() -> None:
    assert order_dependence("select my_agg(b) from t", AGGREGATES) is None
    assert order_dependence("select my_agg(b) from t", {"my_agg"}) is not None
