"""What the last dbt build or test said about each final model's tests."""

from __future__ import annotations

import json
from pathlib import Path

from pgshift.transform import RUN_TARGET_FILE


def dbt_test_results(
    project_dir: Path, target_url: str
) -> dict[str, tuple[int, list[str]]]:
    """Per final model, the tests of the last dbt build or test run on a target.

    A run against another target (or one whose target is not known) gives
    nothing: its results say nothing of this one.

    Args:
        project_dir: The dbt project directory.
        target_url: The target, as ``DatabaseUrl.redacted()`` prints it.

    Returns:
        Model name to (tests run, names of failed or erroring tests).
    """
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
    out: dict[str, tuple[int, list[str]]] = {}
    for result in results.get("results", []):
        node = manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node") or ""
        model = attached.rsplit(".", 1)[-1]
        run, failed = out.get(model, (0, []))
        if result["status"] in {"fail", "error"}:
            failed = [*failed, node["name"]]
        out[model] = (run + 1, failed)
    return out
