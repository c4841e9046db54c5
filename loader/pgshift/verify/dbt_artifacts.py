"""What the last dbt build or test said about each final model's tests."""

from __future__ import annotations

import json
from pathlib import Path


def dbt_test_results(project_dir: Path) -> dict[str, tuple[int, list[str]]]:
    """Per final model, the tests of the last dbt build or test run.

    Returns:
        Model name to (tests run, names of failed or erroring tests).
    """
    target = project_dir / "target"
    try:
        results = json.loads((target / "run_results.json").read_text())
        manifest = json.loads((target / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
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
