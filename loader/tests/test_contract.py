"""A final model whose columns break its contract stops the build.

The contract of each final model declares its columns, their names and
types; dbt checks the model's select against it before the table is
created (the check is one query, ``macros/postgres__get_assert_columns_equivalent.sql``).
A copy of the project scaffolded from a one-table source is built with a
declared type changed, then with a column the contract does not declare,
then with one it declares missing: each stops that model with dbt's
contract error naming the column, and nothing is published. Put back as
scaffolded, the same build publishes the table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from migration import copy_project, query, run_cli, run_steps

CONTRACT_ERROR = "This model has an enforced contract that failed"


def test_a_model_breaking_its_contract_is_not_built(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    query(
        source,
        'create table "shopOrders" ('
        '"id" integer primary key, "amountCents" bigint, "noteText" text); '
        "insert into \"shopOrders\" values (1, 250, 'first'), (2, null, '')",
    )
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    run_steps(("scaffold", "load"), source, target, state, project)
    models = project / "models" / "final" / "_final__models.yml"
    model = project / "models" / "final" / "shop_orders.sql"
    scaffolded_models, scaffolded_model = models.read_text(), model.read_text()
    assert "data_type: bigint" in scaffolded_models
    assert "select * from staged" in scaffolded_model

    broken = {
        "a declared type": (
            scaffolded_models.replace("data_type: bigint", "data_type: integer"),
            scaffolded_model,
            "amount_cents",
        ),
        "an undeclared column": (
            scaffolded_models,
            scaffolded_model.replace(
                "select * from staged", "select *, 1 as extra_column from staged"
            ),
            "extra_column",
        ),
        "a declared column missing": (
            scaffolded_models,
            scaffolded_model.replace(
                "select * from staged",
                "select id, amount_cents from staged",
            ),
            "note_text",
        ),
    }
    for what, (models_text, model_text, column) in broken.items():
        models.write_text(models_text)
        model.write_text(model_text)
        failed = run_cli(["dbt", "build"], source, target, state, project)
        assert failed.returncode == 1, (what, failed.stdout[-3000:])
        assert CONTRACT_ERROR in failed.stdout, (what, failed.stdout[-3000:])
        assert column in failed.stdout, (what, failed.stdout[-3000:])
        assert "nothing published" in failed.stdout, (what, failed.stdout[-3000:])
        assert query(
            target, "select count(*) from pg_tables where schemaname = 'public'"
        ) == [(0,)], what

    models.write_text(scaffolded_models)
    model.write_text(scaffolded_model)
    built = run_cli(["dbt", "build"], source, target, state, project)
    assert built.returncode == 0, built.stdout[-3000:]
    assert query(
        target, "select id, amount_cents, note_text from public.shop_orders order by id"
    ) == [(1, 250, "first"), (2, None, "")]
