"""`curate models list | pull | verify`, `curate doctor`, and `curate run` refusing to start a
model stage whose model is missing, as a user drives them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_assets.cli import main
from curation_assets_tests.models.conftest import CLIP_REPO
from curation_assets_tests.models.hub_server import FakeHub

NAMED = f"""\
visual:
  aesthetic_clip_model: ViT-B-32
  aesthetic_clip_pretrained: laion2b_s34b_b79k
  aesthetic_head_path: hf://test-org/heads/sac+logos+ava1-l14-linearMSE.pth
content:
  clip_model: hf-hub:{CLIP_REPO}
  clip_pretrained: hf-hub:{CLIP_REPO}
captioning:
  captioner: vlm
  model: Qwen/Qwen2.5-VL-7B-Instruct
models:
  revisions: {{Qwen/Qwen2.5-VL-7B-Instruct: v1.0}}
"""
CLIP_ONLY = f"content:\n  clip_model: hf-hub:{CLIP_REPO}\n  clip_pretrained: hf-hub:{CLIP_REPO}\n"


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_on_a_fresh_clone_needs_no_network_and_no_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "never-created"
    monkeypatch.setenv("CURATION_HOME", str(root))
    monkeypatch.delenv("CURATION_CONFIG", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: no network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = _run(capsys, "models", "list", "--json")
    report = json.loads(out)
    assert code == 0 and report["offline_profile"] is True and report["models"] == []
    assert report["config"].endswith("defaults/curation.yaml")
    assert report["lock"] == str(root / "models" / "lock.json")
    assert report["summary"].startswith("no models needed: the offline profile")
    code, out, _ = _run(capsys, "models", "list")
    assert code == 0 and "no models needed" in out and "technical_quality" in out
    assert not root.exists()  # listing writes nothing


def test_list_names_every_model_per_stage_before_any_pull(
    home: Path, capsys: pytest.CaptureFixture
) -> None:
    (home / "curation.yaml").write_text(NAMED)
    code, out, _ = _run(capsys, "models", "list", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["offline_profile"] is False
    rows = {(r["stage"], r["setting"]): r for r in report["models"]}
    clip = rows[("visual_filter", "visual.aesthetic_clip_model + aesthetic_clip_pretrained")]
    # the pretrained tag resolves through open_clip's own table to its hub repo and files
    assert clip["repo_id"] == "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
    assert clip["loader"] == "open_clip" and clip["revision"] == "main"
    assert clip["files_needed"] == "open_clip_model.safetensors | open_clip_pytorch_model.bin"
    headrow = rows[("visual_filter", "visual.aesthetic_head_path")]
    assert headrow["repo_id"] == "test-org/heads"
    assert headrow["files_needed"] == "sac+logos+ava1-l14-linearMSE.pth"
    content = rows[("content_filter", "content.clip_model + clip_pretrained")]
    assert content["repo_id"] == CLIP_REPO and content["loader"] == "open_clip_hub"
    assert content["signals"] == ["clip_embedding", "human_clip", "unsafe_clip"]
    vlm = rows[("captions", "captioning.model")]
    assert vlm["repo_id"] == "Qwen/Qwen2.5-VL-7B-Instruct" and vlm["revision"] == "v1.0"
    assert vlm["offline_fallback"] == "signals captioner"
    for row in report["models"]:
        assert row["state"] == "not pulled" and row["present"] is False
        assert row["licence"] == "unknown until pulled" and row["size_bytes"] is None
    assert "0 of 4 model(s) present" in report["summary"]
    code, out, _ = _run(capsys, "models", "list")
    assert code == 0 and out.count("NOT PULLED") == 4 and "curate models pull" in out


def test_pull_then_list_and_verify_then_a_corrupted_file(
    home: Path, hub: FakeHub, capsys: pytest.CaptureFixture
) -> None:
    (home / "curation.yaml").write_text(CLIP_ONLY)
    code, out, _ = _run(capsys, "models", "pull")
    commit = hub.repos[CLIP_REPO].commit
    assert code == 0 and f"pull: {CLIP_REPO}: main -> {commit[:12]}, 2 file(s)" in out
    code, out, _ = _run(capsys, "models", "list", "--json")
    [row] = json.loads(out)["models"]
    assert row["present"] and row["commit"] == commit and row["licence"] == "mit"
    assert row["size_bytes"] > 6_000_000
    assert row["path"] == str(
        home / "models" / "hub" / f"models--test-org--tiny-clip/snapshots/{commit}"
    )
    assert [f["name"] for f in row["files"]] == [
        "open_clip_config.json",
        "open_clip_model.safetensors",
    ]
    hub.stop()  # verify is offline
    code, out, _ = _run(capsys, "models", "verify")
    # the two hub files, and the two people-detector files taken from MediaPipe's wheel
    assert code == 0 and "verify: 4 of 4 file(s) match the lock" in out
    assert "ok  mediapipe==0.10.14/pose_detection.tflite" in out
    blob = (Path(row["path"]) / "open_clip_config.json").resolve()
    data = bytearray(blob.read_bytes())
    data[5] ^= 0x20
    blob.write_bytes(bytes(data))
    code, out, _ = _run(capsys, "models", "verify")
    assert code == 1
    assert f"BAD {CLIP_REPO}/open_clip_config.json: SHA-256" in out
    assert f"ok  {CLIP_REPO}/open_clip_model.safetensors" in out
    assert "fix with `curate models pull --repair`" in out
    code, out, _ = _run(capsys, "models", "verify", "--json")
    checks = {c["file"]: c["ok"] for c in json.loads(out)["checks"]}
    assert code == 1 and checks == {
        "open_clip_config.json": False,
        "open_clip_model.safetensors": True,
        "pose_detection.tflite": True,
        "face_detection_full_range_sparse.tflite": True,
    }


def test_pull_with_nothing_to_pull_and_a_failing_pull(
    home: Path, hub: FakeHub, capsys: pytest.CaptureFixture
) -> None:
    code, out, _ = _run(capsys, "models", "pull")
    assert code == 0 and "nothing to pull" in out and "offline profile" in out
    (home / "curation.yaml").write_text(
        "captioning:\n  captioner: vlm\n  model: test-org/not-on-this-hub\n"
    )
    code, out, _ = _run(capsys, "models", "pull")
    assert code == 1 and "no model repo test-org/not-on-this-hub" in out
    code, out, _ = _run(capsys, "models", "verify")
    assert code == 1 and "not pulled (captioning.model)" in out


def test_doctor_reports_cpu_and_which_signals_fall_back(
    home: Path, capsys: pytest.CaptureFixture
) -> None:
    code, out, _ = _run(capsys, "doctor")
    assert code == 0
    assert "cpu: " in out and "RAM" in out and "hardware device types built in" in out
    assert "extras (curation-assets" in out
    code, out, _ = _run(capsys, "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["device"]["cpu_cores"] >= 1
    modes = {(r["stage"], r["signal"]): (r["mode"], r["scorer"]) for r in report["signals"]}
    assert modes[("visual_filter", "aesthetic")] == ("offline", "technical_quality")
    assert modes[("content_filter", "unsafe")] == ("offline", "not scored")
    assert modes[("captions", "caption")][0] == "offline"
    assert modes[("visual_filter", "text_area")][0] == "packaged model"
    assert report["decode"]["pyav"] and isinstance(report["decode"]["hw_usable"], dict)
    assert {r["name"] for r in report["extras"]["extras"]["dev"]} >= {"pytest", "ruff"}
    if not report["device"]["cuda"]:
        assert report["device"]["stage_devices"]["captioning.device"]["runs_on"] == "cpu"
    (home / "curation.yaml").write_text(CLIP_ONLY)
    code, out, _ = _run(capsys, "doctor", "--json")
    modes = {(r["stage"], r["signal"]): r for r in json.loads(out)["signals"]}
    unsafe = modes[("content_filter", "unsafe")]
    assert unsafe["mode"] == "STOPS: model missing" and unsafe["models"] == [CLIP_REPO]
    assert modes[("visual_filter", "aesthetic")]["mode"] == "offline"


def test_run_refuses_a_model_stage_whose_model_is_missing(
    home: Path, capsys: pytest.CaptureFixture
) -> None:
    (home / "curation.yaml").write_text(CLIP_ONLY)
    code, out, err = _run(capsys, "run", "--shard", "anything")
    assert code == 2 and out == ""
    assert "content_filter needs 1 model(s) that are not in the local cache" in err
    assert f"content.clip_model + clip_pretrained = hf-hub:{CLIP_REPO}" in err
    assert "curate models pull" in err and "Traceback" not in err
    (home / "curation.yaml").write_text(
        "visual:\n  aesthetic_clip_model: ViT-B-32\n  aesthetic_clip_pretrained: /gone/vit.pt\n"
        "  aesthetic_head_path: /gone/head.pth\n"
    )
    code, _, err = _run(capsys, "run", "--shard", "anything")
    assert code == 2 and "visual_filter needs 2 model(s)" in err
    assert "visual.aesthetic_head_path = /gone/head.pth: missing (path not found)" in err
    assert "correct the local path in curation.yaml" in err and "models pull" not in err
