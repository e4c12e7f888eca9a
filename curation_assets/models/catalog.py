"""Which models the loaded curation.yaml needs, per stage, and where each one comes from.

A model is named in curation.yaml in one of these ways (docs/architecture.md "Models without a
network"):

- open_clip by built-in architecture and pretrained tag (``ViT-B-32`` + ``laion2b_s34b_b79k``):
  open_clip's own pretrained table maps the tag to a hub repo and weights file;
- open_clip by hub id (``hf-hub:org/name``): the repo's ``open_clip_config.json`` and weights;
- a transformers model by hub id (``captioning.model: Qwen/Qwen2.5-VL-7B-Instruct``): config,
  weights, processor and tokenizer files of the repo;
- one file of a hub repo (``visual.aesthetic_head_path: hf://org/name/path/in/repo.pth``);
- a local file or folder (any of the above given as a path): used as it is, never pulled.

Building the catalog reads settings only: no network, no model library (open_clip's table is
imported only when a pretrained tag is configured).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from curation_assets.config import CurationConfig

# open_clip's default weights names (open_clip.constants); the safetensors file is preferred
OPEN_CLIP_WEIGHTS = "open_clip_pytorch_model.bin"
OPEN_CLIP_SAFE_WEIGHTS = "open_clip_model.safetensors"
OPEN_CLIP_CONFIG = "open_clip_config.json"
# tokenizer files an hf-hub open_clip repo may carry (text towers with an HF tokenizer)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spiece.model",
    "*.tiktoken",
)
# files of a transformers repo that the library never reads when loading with torch
TRANSFORMERS_IGNORE = (
    "*.msgpack",
    "*.h5",
    "*.ot",
    "*.onnx",
    "*.onnx_data",
    "*.gguf",
    "*.tflite",
    "onnx/*",
    "openvino/*",
    "coreml/*",
    "original/*",
    ".gitattributes",
)
HUB_FILE_PREFIX = "hf://"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")


@dataclass(frozen=True)
class ModelSource:
    """Where one model's files come from.

    ``kind``: ``hub`` (a repo at a revision, the files below), ``local`` (a path, used as it
    is), ``url`` (an open_clip tag with no hub repo: open_clip downloads it itself, unpinned).
    ``required``: groups of alternatives, the first file of a group that the repo has is
    fetched (open_clip prefers safetensors); ``optional``: further files (fnmatch patterns)
    fetched when the repo has them, minus ``ignore``.
    """

    kind: str
    loader: (
        str  # open_clip (weights for a built-in architecture), open_clip_hub, transformers, file
    )
    repo_id: str | None = None
    revision: str = "main"
    required: tuple[tuple[str, ...], ...] = ()
    optional: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    path: str | None = None  # local path, or the url of a url-only open_clip tag
    tag: str | None = None  # open_clip: architecture/tag the weights belong to

    @property
    def label(self) -> str:
        if self.kind == "hub":
            return self.repo_id or ""
        return self.path or ""

    def files_hint(self) -> str:
        """The files this source needs, as far as they are known before a pull."""
        if self.kind != "hub":
            return Path(self.path or "").name
        parts = [" | ".join(group) for group in self.required]
        if self.loader == "transformers":
            parts.append("weights, processor and tokenizer files")
        elif self.optional:
            parts.append("tokenizer files if any")
        return ", ".join(parts)


@dataclass(frozen=True)
class ModelNeed:
    """One model one stage of the current settings uses."""

    stage: str  # the asset that loads it: visual_filter, content_filter, captions
    role: str
    setting: str  # the curation.yaml keys that name it
    configured: str  # what they say
    signals: tuple[str, ...]  # what it computes
    fallback: str  # what the offline profile computes instead
    source: ModelSource

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "role": self.role,
            "setting": self.setting,
            "configured": self.configured,
            "signals": list(self.signals),
            "offline_fallback": self.fallback,
            "kind": self.source.kind,
            "loader": self.source.loader,
            "repo_id": self.source.repo_id,
            "revision": self.source.revision if self.source.kind == "hub" else None,
            "path": self.source.path,
            "files_needed": self.source.files_hint(),
        }


@dataclass
class Catalog:
    needs: list[ModelNeed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # settings that name half a model

    def for_stage(self, stage: str) -> list[ModelNeed]:
        return [n for n in self.needs if n.stage == stage]

    def hub_sources(self) -> list[ModelSource]:
        """Distinct hub sources (a repo used by two stages is pulled once)."""
        seen: dict[tuple, ModelSource] = {}
        for need in self.needs:
            s = need.source
            if s.kind == "hub":
                seen.setdefault((s.repo_id, s.revision, s.required, s.optional, s.ignore), s)
        return list(seen.values())


def is_commit(revision: str) -> bool:
    return bool(_COMMIT.match(revision))


def looks_local(value: str) -> bool:
    """A path (existing, or written as one) rather than a hub id."""
    expanded = os.path.expanduser(value)
    if os.path.exists(expanded) or value.startswith(("/", "./", "../", "~", "\\")):
        return True
    return not _HUB_ID.match(value) or value.lower().endswith(_WEIGHT_SUFFIXES)


def _revision(repo_id: str, revisions: dict[str, str]) -> str:
    return revisions.get(repo_id, "main")


def _local(loader: str, path: str) -> ModelSource:
    return ModelSource(kind="local", loader=loader, path=path)


def open_clip_source(
    model_name: str, pretrained: str | None, revisions: dict[str, str] | None = None
) -> ModelSource:
    """Weights of an open_clip model: ``hf-hub:`` id, built-in architecture + tag, or a path."""
    revisions = revisions or {}
    if model_name.startswith("hf-hub:"):
        repo = model_name[len("hf-hub:") :]
        return ModelSource(
            kind="hub",
            loader="open_clip_hub",
            repo_id=repo,
            revision=_revision(repo, revisions),
            required=((OPEN_CLIP_CONFIG,), (OPEN_CLIP_SAFE_WEIGHTS, OPEN_CLIP_WEIGHTS)),
            optional=TOKENIZER_FILES,
        )
    if model_name.startswith("local-dir:"):
        return _local("open_clip_hub", model_name[len("local-dir:") :])
    if not pretrained:
        return _local("open_clip", "")
    if not os.path.isfile(os.path.expanduser(pretrained)):
        tag_cfg = _pretrained_cfg(model_name, pretrained)
        hub = tag_cfg.get("hf_hub", "")
        if hub:
            # "org/name/" (the default weights name) or "org/name/file.bin"
            repo, filename = os.path.split(hub)
            filename = filename or OPEN_CLIP_WEIGHTS
            return ModelSource(
                kind="hub",
                loader="open_clip",
                repo_id=repo,
                revision=_revision(repo, revisions),
                required=(_safe_alternatives(filename),),
                tag=f"{model_name}/{pretrained}",
            )
        if tag_cfg.get("url"):
            return ModelSource(
                kind="url",
                loader="open_clip",
                path=tag_cfg["url"],
                tag=f"{model_name}/{pretrained}",
            )
    return _local("open_clip", pretrained)


def _pretrained_cfg(model_name: str, tag: str) -> dict:
    """open_clip's pretrained table entry for a built-in architecture and tag ({} if none)."""
    if "/" in tag or "\\" in tag or tag.lower().endswith(_WEIGHT_SUFFIXES):
        return {}  # a path, not a tag: no need to import open_clip
    import open_clip

    return dict(open_clip.get_pretrained_cfg(model_name.replace("/", "-"), tag) or {})


def _safe_alternatives(filename: str) -> tuple[str, ...]:
    """open_clip's order: a safetensors twin first when there is one (pretrained.py)."""
    if filename == OPEN_CLIP_WEIGHTS:
        return (OPEN_CLIP_SAFE_WEIGHTS, filename)
    if filename.endswith((".bin", ".pth")):
        return (filename[:-4] + ".safetensors", filename)
    return (filename,)


def hub_file_source(value: str, revisions: dict[str, str] | None = None) -> ModelSource:
    """``hf://org/name/path/in/repo`` (one file of a hub repo), else a local file."""
    if not value.startswith(HUB_FILE_PREFIX):
        return _local("file", value)
    parts = value[len(HUB_FILE_PREFIX) :].split("/", 2)
    if len(parts) < 3 or not parts[2] or not _HUB_ID.match(f"{parts[0]}/{parts[1]}"):
        raise ValueError(f"{value!r}: expected hf://org/name/path/in/repo")
    repo = f"{parts[0]}/{parts[1]}"
    return ModelSource(
        kind="hub",
        loader="file",
        repo_id=repo,
        revision=_revision(repo, revisions or {}),
        required=((parts[2],),),
    )


def transformers_source(value: str, revisions: dict[str, str] | None = None) -> ModelSource:
    """A transformers checkpoint: a hub id (the repo's loadable files) or a local folder."""
    if looks_local(value):
        return _local("transformers", value)
    return ModelSource(
        kind="hub",
        loader="transformers",
        repo_id=value,
        revision=_revision(value, revisions or {}),
        required=(("config.json",),),
        optional=("*",),
        ignore=TRANSFORMERS_IGNORE,
    )


CLIP_SIGNALS = ("clip_embedding", "human_clip", "unsafe_clip")


def catalog(cfg: CurationConfig) -> Catalog:
    """Every model the settings make a stage load (the same conditions as the registry's)."""
    out = Catalog()
    revisions = dict(cfg.models.revisions)
    v = cfg.visual
    aesthetic = (v.aesthetic_clip_model, v.aesthetic_clip_pretrained, v.aesthetic_head_path)
    if all(aesthetic):
        out.needs.append(
            ModelNeed(
                stage="visual_filter",
                role="aesthetic: open_clip image tower",
                setting="visual.aesthetic_clip_model + aesthetic_clip_pretrained",
                configured=f"{v.aesthetic_clip_model} / {v.aesthetic_clip_pretrained}",
                signals=("aesthetic",),
                fallback="technical_quality",
                source=open_clip_source(
                    v.aesthetic_clip_model, v.aesthetic_clip_pretrained, revisions
                ),
            )
        )
        out.needs.append(
            ModelNeed(
                stage="visual_filter",
                role=f"aesthetic: {v.aesthetic_head_kind} head",
                setting="visual.aesthetic_head_path",
                configured=str(v.aesthetic_head_path),
                signals=("aesthetic",),
                fallback="technical_quality",
                source=hub_file_source(str(v.aesthetic_head_path), revisions),
            )
        )
    elif any(aesthetic):
        out.notes.append(
            "visual.aesthetic_clip_model, aesthetic_clip_pretrained and aesthetic_head_path must "
            "all be set for the aesthetic model; with only some set, technical_quality is used"
        )
    c = cfg.content
    if c.clip_model and c.clip_pretrained:
        out.needs.append(
            ModelNeed(
                stage="content_filter",
                role="open_clip: embeddings, zero-shot has_human and unsafe",
                setting="content.clip_model + clip_pretrained",
                configured=f"{c.clip_model} / {c.clip_pretrained}",
                signals=CLIP_SIGNALS,
                fallback="thumbnail_embedding, blazepose_people; unsafe not scored",
                source=open_clip_source(c.clip_model, c.clip_pretrained, revisions),
            )
        )
    elif c.clip_model or c.clip_pretrained:
        out.notes.append(
            "content.clip_model and clip_pretrained must both be set for open_clip (for an "
            "hf-hub: model name open_clip ignores clip_pretrained: repeat the id there); "
            "with one set, the offline content scorers run"
        )
    cap = cfg.captioning
    if cap.captioner == "vlm" and cap.model:
        out.needs.append(
            ModelNeed(
                stage="captions",
                role="VLM captioner (transformers image-text-to-text)",
                setting="captioning.model",
                configured=cap.model,
                signals=("caption",),
                fallback="signals captioner",
                source=transformers_source(cap.model, revisions),
            )
        )
    return out
