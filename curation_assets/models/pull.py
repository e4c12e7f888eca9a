"""Fetch the models a configuration needs with ``huggingface_hub``, pinned and checked.

For each hub repo: the revision curation.yaml asks for (``models.revisions``, default ``main``)
is resolved to a commit once and written to the lock; later pulls keep that commit (a branch
moving on the hub changes nothing) until ``update=True``. The repo's file list comes from the
hub's model API with file metadata (size, git blob id, LFS SHA-256); only the files the loader
needs are fetched, each with ``hf_hub_download`` at the pinned commit into the cache. A dropped
connection resumes the file from the byte it reached (an HTTP Range request, inside
``huggingface_hub``); files already complete from an interrupted pull are not fetched again.
Every fetched file is checked against the hub's hashes before it is recorded (a bad one is
removed from the cache), so ``verify`` later compares with what the hub said, offline.

The endpoint is ``$HF_ENDPOINT`` (read when the pull runs), else huggingface.co; a token comes
from huggingface_hub's usual places (``HF_TOKEN``, ``hf auth login``) for gated repos.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from curation_assets.models.catalog import ModelSource, is_commit
from curation_assets.models.errors import PullError
from curation_assets.models.store import ModelStore, git_blob_id, select_files, sha256_file
from curation_assets.storage.files import atomic_write_bytes

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_env() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(f.strip().lower() in _TRUE for f in flags)


def pull(
    store: ModelStore,
    sources: list[ModelSource],
    *,
    update: bool = False,
    repair: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[dict]:
    """Pull every hub source (grouped per repo); one result dict per repo, in order.

    ``update``: re-resolve the revision (a branch may have moved). ``repair``: hash the cached
    files first and fetch again those that differ from the lock (what ``verify`` reports).
    A repo that fails is reported with ``error`` set and the others still go on.
    """
    by_repo: dict[str, list[ModelSource]] = {}
    for source in sources:
        if source.kind == "hub" and source.repo_id:
            by_repo.setdefault(source.repo_id, []).append(source)
    results = []
    for repo_id, group in by_repo.items():
        try:
            results.append(_pull_repo(store, repo_id, group, update, repair, log))
        except PullError as exc:
            log(f"{repo_id}: FAILED: {exc}")
            results.append({"repo_id": repo_id, "state": "failed", "error": str(exc)})
    return results


def _pull_repo(
    store: ModelStore,
    repo_id: str,
    sources: list[ModelSource],
    update: bool,
    repair: bool,
    log: Callable[[str], None],
) -> dict:
    revisions = {s.revision for s in sources}
    if len(revisions) != 1:
        raise PullError(f"{repo_id}: asked for at several revisions {sorted(revisions)}")
    revision = revisions.pop()
    entry, _stale = store._entry_for(sources[0])
    if entry is not None and not update:
        if repair:
            names = sorted({f.name for s in sources for f in store.status(s).files})
            for check in store.verify_entry(repo_id, entry, names):
                if not check["ok"] and check["problem"] != "missing":
                    log(f"{repo_id}/{check['file']}: {check['problem']}: fetching it again")
                    _discard(Path(check["path"]))
        if all(store.status(s).state == "present" for s in sources):
            log(f"{repo_id}: up to date at {entry['commit'][:12]} ({revision})")
            return _result(repo_id, "up to date", entry, store)
        ask = entry["commit"]  # keep the pin; fetch what is missing at that commit
    else:
        ask = revision
    endpoint = hub_endpoint()
    if offline_env():
        raise PullError(
            "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set: pulling needs the network; unset "
            "it for this command (runs stay offline: they load from the cache only)"
        )
    info = _model_info(repo_id, ask, endpoint)
    commit = info.sha
    if not commit or not is_commit(commit):
        raise PullError(f"{repo_id}: the hub at {endpoint} reported no commit for {ask!r}")
    siblings = {s.rfilename: s for s in info.siblings or []}
    wanted: list[str] = []
    for source in sources:
        files, missing = select_files(source, sorted(siblings))
        if missing:
            raise PullError(
                f"{repo_id}@{commit[:12]} has none of {'; '.join(missing)} "
                f"(needed as {source.loader} weights)"
            )
        wanted += [f for f in files if f not in wanted]
    log(f"{repo_id}: {revision} -> {commit[:12]}, {len(wanted)} file(s)")
    recorded = {}
    for name in wanted:
        recorded[name] = _fetch(store, repo_id, commit, name, siblings[name], endpoint)
    if not is_commit(revision):
        _write_ref(store, repo_id, revision, commit)
    previous = entry["files"] if entry is not None and entry.get("commit") == commit else {}
    new_entry = {
        "repo_id": repo_id,
        "revision": revision,
        "commit": commit,
        "licence": _licence(info),
        "endpoint": endpoint,
        "pulled_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": dict(sorted({**previous, **recorded}.items())),
    }
    store.record(repo_id, new_entry)
    return _result(repo_id, "pulled", new_entry, store)


def _result(repo_id: str, state: str, entry: dict, store: ModelStore) -> dict:
    return {
        "repo_id": repo_id,
        "state": state,
        "revision": entry["revision"],
        "commit": entry["commit"],
        "licence": entry.get("licence"),
        "files": sorted(entry["files"]),
        "size_bytes": sum(m["size"] for m in entry["files"].values()),
        "path": str(store.snapshot(repo_id, entry["commit"])),
    }


def _model_info(repo_id: str, revision: str, endpoint: str):
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True)
    except GatedRepoError as exc:
        raise PullError(
            f"{repo_id} is gated: accept its licence at {endpoint}/{repo_id} and log in "
            f"(HF_TOKEN or `hf auth login`)"
        ) from exc
    except RevisionNotFoundError as exc:
        raise PullError(f"{repo_id} has no revision {revision!r} on {endpoint}") from exc
    except RepositoryNotFoundError as exc:
        raise PullError(
            f"no model repo {repo_id} on {endpoint} (or it is private: set HF_TOKEN)"
        ) from exc
    except (httpx2.TransportError, OfflineModeIsEnabled) as exc:
        raise PullError(f"cannot reach {endpoint}: {type(exc).__name__}: {exc}") from exc
    except HfHubHTTPError as exc:
        raise PullError(f"{repo_id}: the hub answered {exc}") from exc


def _fetch(store: ModelStore, repo_id: str, commit: str, name: str, sibling, endpoint: str) -> dict:
    """Download one file at the pinned commit and check it against the hub's metadata."""
    import httpx2
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        path = Path(
            hf_hub_download(
                repo_id,
                name,
                revision=commit,
                cache_dir=store.hub_cache,
                endpoint=endpoint,
            )
        )
    except (httpx2.TransportError, OfflineModeIsEnabled) as exc:
        raise PullError(f"{repo_id}/{name}: download failed: {type(exc).__name__}: {exc}") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise PullError(f"{repo_id}/{name}: download failed: {exc}") from exc
    lfs = getattr(sibling, "lfs", None)
    expected_size = lfs.size if lfs is not None else sibling.size
    size = path.stat().st_size
    problem = None
    if expected_size is not None and size != expected_size:
        problem = f"{size} bytes, the hub says {expected_size}"
    sha256 = sha256_file(path)
    if problem is None and lfs is not None and sha256 != lfs.sha256:
        problem = f"SHA-256 {sha256} != the hub's {lfs.sha256}"
    blob_id = getattr(sibling, "blob_id", None)
    if problem is None and lfs is None and blob_id and git_blob_id(path) != blob_id:
        problem = f"git blob id differs from the hub's {blob_id}"
    if problem:
        _discard(path)
        raise PullError(f"{repo_id}/{name}: downloaded file is corrupt ({problem}); removed")
    return {
        "size": size,
        "sha256": sha256,
        "sha256_from": "hub (LFS)" if lfs is not None else "computed (git blob id matched)",
        "lfs": lfs is not None,
        "blob_id": blob_id,
    }


def _discard(pointer: Path) -> None:
    """Remove a bad file from the cache: the blob and the snapshot's link to it."""
    blob = pointer.resolve()
    for path in (pointer, blob):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _write_ref(store: ModelStore, repo_id: str, revision: str, commit: str) -> None:
    """refs/<revision> = commit, as huggingface_hub writes it (tools reading the cache by
    branch name then see the pinned commit)."""
    ref = store.repo_folder(repo_id) / "refs" / revision
    atomic_write_bytes(ref, commit.encode("utf-8"), unique=True)


def _licence(info) -> str | None:
    card = getattr(info, "card_data", None)
    licence = getattr(card, "license", None) if card is not None else None
    if isinstance(licence, list):
        licence = ", ".join(str(x) for x in licence)
    if licence:
        return str(licence)
    tags = [t.split(":", 1)[1] for t in (info.tags or []) if t.startswith("license:")]
    return ", ".join(tags) or None
