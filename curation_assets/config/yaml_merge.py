"""Reading a curation.yaml-style file, and laying one over another key by key."""

from __future__ import annotations

from pathlib import Path

import yaml

# libyaml's safe loader where PyYAML was built with it: the same documents, ~10x faster (a run
# reads its curation.yaml once per step and per resource call, ~50 times in a global run)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=SAFE_LOADER) or {}  # a safe loader
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def merge_yaml(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_yaml(merged[key], value)
        else:
            merged[key] = value
    return merged
