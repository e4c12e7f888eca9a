"""Pull, resume, pin, verify against a loopback hub (``HF_ENDPOINT``), no internet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from curation_assets.config.sections import ModelsConfig
from curation_assets.models import ModelNotAvailable, ModelStore
from curation_assets.models.catalog import hub_file_source, open_clip_source
from curation_assets.models.pull import pull
from curation_assets_tests.models.conftest import CLIP_REPO
from curation_assets_tests.models.hub_server import FakeHub, Repo

WEIGHTS = "open_clip_model.safetensors"
SOURCE = open_clip_source(f"hf-hub:{CLIP_REPO}", None)


@pytest.fixture
def store(home: Path) -> ModelStore:
    return ModelStore(ModelsConfig().resolved(home))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_pull_into_fresh_root_records_pinned_commit_sizes_and_hashes(
    hub: FakeHub, store: ModelStore, clip_repo_dir: Path
) -> None:
    [result] = pull(store, [SOURCE])
    repo = hub.repos[CLIP_REPO]
    assert result["state"] == "pulled" and result["commit"] == repo.commit
    # only what open_clip loads: no README, no aesthetic head
    assert result["files"] == ["open_clip_config.json", WEIGHTS]
    lock = json.loads(store.lock_path.read_text())
    entry = lock["models"][CLIP_REPO]
    assert entry["revision"] == "main" and entry["commit"] == repo.commit
    assert entry["licence"] == "mit" and entry["endpoint"] == hub.endpoint
    weights = (clip_repo_dir / WEIGHTS).read_bytes()
    assert entry["files"][WEIGHTS] == {
        "size": len(weights),
        "sha256": _sha256(weights),
        "sha256_from": "hub (LFS)",
        "lfs": True,
        "blob_id": repo.sibling(WEIGHTS)["blobId"],
    }
    config = entry["files"]["open_clip_config.json"]
    assert config["lfs"] is False and config["sha256_from"].startswith("computed")
    assert config["sha256"] == _sha256((clip_repo_dir / "open_clip_config.json").read_bytes())
    # the HF cache layout, under the data root, with refs/main -> the pinned commit
    snapshot = store.snapshot(CLIP_REPO, repo.commit)
    assert snapshot.parent.parent.parent == store.hub_cache == store.dir / "hub"
    assert (snapshot / WEIGHTS).read_bytes() == weights
    assert (store.repo_folder(CLIP_REPO) / "refs" / "main").read_text() == repo.commit
    status = store.status(SOURCE)
    assert status.state == "present" and status.size == result["size_bytes"]
    # every request named the commit once it was known: the download is pinned
    downloads = [r for r in hub.requests if "/resolve/" in r.path]
    assert downloads and all(f"/resolve/{repo.commit}/" in r.path for r in downloads)


def test_interrupted_download_resumes_with_a_range_request(
    hub: FakeHub, store: ModelStore, clip_repo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    # huggingface_hub writes what it received in 10 MB chunks: smaller ones so that the half
    # of this 7 MB file sent before the drop reaches the disk and is resumed from
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    hub.drop_once.add((CLIP_REPO, WEIGHTS))
    [result] = pull(store, [SOURCE])
    assert result["state"] == "pulled"
    first, second = hub.gets(WEIGHTS)
    assert "Range" not in first.headers and first.status == 200
    size = len((clip_repo_dir / WEIGHTS).read_bytes())
    offset = int(second.headers["Range"].removeprefix("bytes=").split("-")[0])
    assert second.status == 206 and 0 < offset <= size // 2
    snapshot = store.snapshot(CLIP_REPO, result["commit"])
    assert (snapshot / WEIGHTS).read_bytes() == (clip_repo_dir / WEIGHTS).read_bytes()
    assert store.verify_entry(CLIP_REPO, store.locked(CLIP_REPO))[1]["ok"]


def test_pull_again_is_offline_and_refetches_only_what_is_missing(
    hub: FakeHub, store: ModelStore
) -> None:
    [first] = pull(store, [SOURCE])
    hub.requests.clear()
    assert pull(store, [SOURCE])[0]["state"] == "up to date"
    assert hub.requests == []  # complete and pinned: nothing asked of the hub
    # an interrupted pull (or a cleaned cache) lost one file: only that one is fetched again
    lost = store.snapshot(CLIP_REPO, first["commit"]) / "open_clip_config.json"
    blob = lost.resolve()
    lost.unlink()
    blob.unlink()
    assert store.status(SOURCE).state == "incomplete"
    assert pull(store, [SOURCE])[0]["state"] == "pulled"
    assert hub.gets("open_clip_config.json") and not hub.gets(WEIGHTS)
    assert f"/revision/{first['commit']}" in hub.requests[0].path  # the pin, not main
    assert store.status(SOURCE).state == "present"


def test_a_moving_branch_does_not_move_the_pin_until_update(
    hub: FakeHub, store: ModelStore, clip_repo_dir: Path
) -> None:
    [first] = pull(store, [SOURCE])
    files = dict(hub.repos[CLIP_REPO].files)
    files["open_clip_config.json"] = files["open_clip_config.json"].replace(b"0.25", b"0.26")
    hub.repos[CLIP_REPO] = Repo(files=files, lfs={WEIGHTS}, licence="mit")  # a new commit
    new_commit = hub.repos[CLIP_REPO].commit
    assert new_commit != first["commit"]
    assert pull(store, [SOURCE])[0]["commit"] == first["commit"]
    [updated] = pull(store, [SOURCE], update=True)
    assert updated["state"] == "pulled" and updated["commit"] == new_commit
    assert store.locked(CLIP_REPO)["commit"] == new_commit
    assert store.status(SOURCE).commit == new_commit


def test_verify_passes_then_names_a_corrupted_file(hub: FakeHub, store: ModelStore) -> None:
    pull(store, [SOURCE])
    entry = store.locked(CLIP_REPO)
    assert all(c["ok"] for c in store.verify_entry(CLIP_REPO, entry))
    cached = store.snapshot(CLIP_REPO, entry["commit"]) / WEIGHTS
    blob = cached.resolve()  # the snapshot file links to the blob
    data = bytearray(blob.read_bytes())
    data[len(data) // 3] ^= 0xFF  # one flipped byte, same size
    blob.write_bytes(bytes(data))
    checks = {c["file"]: c for c in store.verify_entry(CLIP_REPO, entry)}
    assert checks["open_clip_config.json"]["ok"]
    assert not checks[WEIGHTS]["ok"] and "SHA-256" in checks[WEIGHTS]["problem"]
    # size checks alone (status, a plain pull) cannot see it; verify can, and pull --repair
    # fetches what verify rejects
    assert store.status(SOURCE).state == "present"
    hub.requests.clear()
    assert pull(store, [SOURCE])[0]["state"] == "up to date" and hub.requests == []
    assert pull(store, [SOURCE], repair=True)[0]["state"] == "pulled"
    assert [r.method for r in hub.requests if "/resolve/" in r.path] == ["HEAD", "GET"]
    assert all(c["ok"] for c in store.verify_entry(CLIP_REPO, entry))
    data = bytearray(blob.read_bytes())
    # a truncated file the size check sees: the model is not usable, resolve says how to fix
    blob.write_bytes(bytes(data[:-10]))
    assert store.status(SOURCE).state == "incomplete"
    with pytest.raises(ModelNotAvailable, match="curate models pull"):
        store.resolve(SOURCE)


def test_a_download_that_does_not_match_the_hub_is_refused_and_removed(
    hub: FakeHub, store: ModelStore
) -> None:
    repo = hub.repos[CLIP_REPO]
    good = repo.files[WEIGHTS]
    bad = bytearray(good)
    bad[100] ^= 1
    # the model API still reports the good file's SHA-256; the file endpoint serves other bytes
    hub.repos[CLIP_REPO] = _Tampered(repo, WEIGHTS, bytes(bad))
    [result] = pull(store, [SOURCE])
    assert result["state"] == "failed" and "corrupt" in result["error"]
    assert store.locked(CLIP_REPO) is None
    assert not (store.repo_folder(CLIP_REPO) / "blobs" / _sha256(good)).exists()
    assert not list(store.repo_folder(CLIP_REPO).glob(f"snapshots/*/{WEIGHTS}"))


class _Tampered(Repo):
    """A repo whose file endpoint serves ``data`` for ``name`` while its metadata stays true."""

    def __init__(self, repo: Repo, name: str, data: bytes) -> None:
        super().__init__(files=dict(repo.files), lfs=set(repo.lfs), licence=repo.licence)
        self._true = dict(repo.files)
        self.files[name] = data

    def sibling(self, name: str) -> dict:
        return Repo(files=self._true, lfs=self.lfs, licence=self.licence).sibling(name)


def test_one_file_of_a_repo_and_errors_that_name_the_problem(
    hub: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = hub_file_source(f"hf://{CLIP_REPO}/aesthetic_head.pth")
    [result] = pull(store, [head])
    assert result["files"] == ["aesthetic_head.pth"]
    assert store.status(head).state == "present"
    missing = open_clip_source("hf-hub:test-org/nope", None)
    assert "no model repo test-org/nope" in pull(store, [missing])[0]["error"]
    pinned = open_clip_source(f"hf-hub:{CLIP_REPO}", None, {CLIP_REPO: "v9"})
    assert "no revision 'v9'" in pull(store, [pinned])[0]["error"]
    wrong_file = hub_file_source(f"hf://{CLIP_REPO}/heads/none.pth")
    assert "has none of heads/none.pth" in pull(store, [wrong_file])[0]["error"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE" in pull(store, [SOURCE])[0]["error"]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.stop()
    assert "cannot reach" in pull(store, [SOURCE])[0]["error"]


def test_a_revision_change_in_settings_makes_the_lock_stale(
    hub: FakeHub, store: ModelStore
) -> None:
    [first] = pull(store, [SOURCE])
    by_commit = open_clip_source(f"hf-hub:{CLIP_REPO}", None, {CLIP_REPO: first["commit"]})
    assert store.status(by_commit).state == "present"  # pinned by commit: same files
    tagged = open_clip_source(f"hf-hub:{CLIP_REPO}", None, {CLIP_REPO: "release"})
    assert store.status(tagged).state == "stale revision"
    with pytest.raises(ModelNotAvailable, match="asks for release"):
        store.resolve(tagged)
