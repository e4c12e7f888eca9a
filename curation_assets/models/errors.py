"""The errors of the models package: a model (or the library that runs it) a stage needs is not
usable, a pull failed."""

from __future__ import annotations

PULL_HINT = "run `curate models pull` (needs the network once), then `curate models verify`"


class ModelNotAvailable(RuntimeError):
    """A configured model is not in the local cache (never pulled, or files gone).

    Raised before any library is asked to load it, so the message is the whole story: what is
    missing, for which setting, where it was looked for, and the command that fixes it.
    """


VLLM_INSTALL = "run `.venv/bin/pip install -e '.[vllm]'` (Linux, CUDA GPU)"


class BackendNotInstalled(ModelNotAvailable):
    """The configured inference backend (vLLM) is not installed in this environment."""


class PullError(RuntimeError):
    """A model could not be fetched (network, unknown repo or revision, gated, bad download)."""
