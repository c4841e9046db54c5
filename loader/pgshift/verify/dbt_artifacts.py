"""What the last dbt build or test said about each final model's tests."""

from __future__ import annotations

import json

from pgshift.settings import Settings
from pgshift.transform import CHECKS_TEST, RUN_TARGET_FILE, failing_checks


def dbt_test_results(settings: Settings) -> dict[str, tuple[int, list[str]]]:
    """Per final model, the checks of the last dbt build or test run on a target.

    A run against another target (or one whose target is not known) gives
    nothing: its results say nothing of this one. A ``pgshift_constraints``
    test counts, for each table it checks (the model it is attached to and
    its ``more_tables``), as the checks it makes of it (the count and
    checksum against the source, each key, key column, foreign key and enum
    column), and when it failed, the checks that failed are read back from
    the target and given to their tables. In a ``dbt build`` the test checks
    only the tables whose models the same build selected (``dbt build -s
    bids`` checks bids, not the published tables tested beside it), so only
    those count.

    Args:
        settings: The run settings (the project and the target).

    Returns:
        Model name to (checks run, names of the failed checks or tests).
    """
    project_dir, target_url = settings.project_dir, settings.target.redacted()
    target = project_dir / "target"
    try:
        results = json.loads((target / "run_results.json").read_text())
        manifest = json.loads((target / "manifest.json").read_text())
        run = json.loads((target / RUN_TARGET_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    invocation = results.get("metadata", {}).get("invocation_id")
    if run.get("invocation_id") != invocation or run.get("target") != target_url:
        return {}
    if results.get("args", {}).get("which") not in {"build", "test"}:
        return {}
    building = results["args"]["which"] == "build"
    selected = {result["unique_id"] for result in results.get("results", [])}
    project = manifest.get("metadata", {}).get("project_name", "")
    out: dict[str, tuple[int, list[str]]] = {}
    for result in results.get("results", []):
        node = manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") != "test":
            continue
        attached = (node.get("attached_node") or "").rsplit(".", 1)[-1]
        metadata = node.get("test_metadata") or {}
        if metadata.get("name") != CHECKS_TEST:
            run, failed = out.get(attached, (0, []))
            if result["status"] in {"fail", "error"}:
                failed = [*failed, node["name"]]
            out[attached] = (run + 1, failed)
            continue
        kwargs = metadata.get("kwargs") or {}
        tables = {
            model: arguments
            for model, arguments in (
                {attached: kwargs}
                | {other["model"]: other for other in kwargs.get("more_tables") or []}
            ).items()
            if not building or f"model.{project}.{model}" in selected
        }
        failing: list[tuple[str | None, str]] = []
        if result["status"] == "fail":
            failing = failing_checks(settings, result["compiled_code"])
        for model, arguments in tables.items():
            run, failed = out.get(model, (0, []))
            checks = sum(
                len(arguments.get(kind) or [])
                for kind in ("keys", "not_null", "foreign_keys", "enums")
            ) + (1 if arguments.get("source_table") is not None else 0)
            # A line naming no table (the checks could not be read back)
            # stands against every table of the test.
            failed = [*failed, *(line for t, line in failing if t in (model, None))]
            if result["status"] == "error":
                failed = [*failed, node["name"]]
            elif result["status"] == "skipped":
                failed = [*failed, f"{node['name']} did not run (skipped)"]
            out[model] = (run + checks, failed)
    return out
