"""A final model whose columns break its contract stops the build.

The contract of each final model declares its columns, their names and
types; dbt checks the model's select against it before the table is
created (the check is one query, ``macros/postgres__get_assert_columns_equivalent.sql``).
A copy of the project scaffolded from a three-table source is built with,
in one model each, a declared type changed, a column the contract does not
declare, and one it declares missing: each stops its model with dbt's
contract error naming the column, and nothing is published. Put back as
scaffolded, the same build publishes the tables.
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
    # One table per way of breaking the contract, alike but in name.
    tables = {
        "a declared type": ("shopOrders", "shop_orders"),
        "an undeclared column": ("shopRefunds", "shop_refunds"),
        "a declared column missing": ("shopCredits", "shop_credits"),
    }
    for name, _ in tables.values():
        query(
            source,
            f'create table "{name}" ('
            '"id" integer primary key, "amountCents" bigint, "noteText" text); '
            f"insert into \"{name}\" values (1, 250, 'first'), (2, null, '')",
        )
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    run_steps(("scaffold", "load"), source, target, state, project)
    final = project / "models" / "final"
    models = final / "_final__models.yml"
    scaffolded_models = models.read_text()
    scaffolded = {
        model: (final / f"{model}.sql").read_text() for _, model in tables.values()
    }
    assert scaffolded_models.count("data_type: bigint") == 3
    for text in scaffolded.values():
        assert "select * from staged" in text

    # Each model's own declared type, after its own name in the models file.
    head, orders = scaffolded_models.split("name: shop_orders\n", 1)
    broken_models = (
        head
        + "name: shop_orders\n"
        + orders.replace("data_type: bigint", "data_type: integer", 1)
    )
    assert broken_models.count("data_type: bigint") == 2
    broken = {
        "a declared type": (scaffolded["shop_orders"], "amount_cents"),
        "an undeclared column": (
            scaffolded["shop_refunds"].replace(
                "select * from staged", "select *, 1 as extra_column from staged"
            ),
            "extra_column",
        ),
        "a declared column missing": (
            scaffolded["shop_credits"].replace(
                "select * from staged", "select id, amount_cents from staged"
            ),
            "note_text",
        ),
    }
    models.write_text(broken_models)
    for what, (model_text, _) in broken.items():
        (final / f"{tables[what][1]}.sql").write_text(model_text)
    failed = run_cli(["dbt", "build"], source, target, state, project)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "nothing published" in failed.stdout, failed.stdout[-3000:]
    assert query(
        target, "select count(*) from pg_tables where schemaname = 'public'"
    ) == [(0,)]
    # Each model stops with the contract error naming its own column.
    for what, (_, column) in broken.items():
        model = tables[what][1]
        assert f"{model}: error: " in failed.stdout, (what, failed.stdout[-6000:])
        error = failed.stdout.split(f"{model}: error: ", 1)[1]
        error = error.split(f"> called by model {model} ", 1)[0]
        assert CONTRACT_ERROR in error, (what, error)
        assert column in error, (what, error)

    models.write_text(scaffolded_models)
    for model, text in scaffolded.items():
        (final / f"{model}.sql").write_text(text)
    built = run_cli(["dbt", "build"], source, target, state, project)
    assert built.returncode == 0, built.stdout[-3000:]
    for _, model in tables.values():
        assert query(
            target,
            f"select id, amount_cents, note_text from public.{model} order by id",
        ) == [(1, 250, "first"), (2, None, "")]
