"""Where a model runs, in what precision, and how many items go through it at once.

The same code runs on a laptop CPU and on a GPU: ``device: auto`` takes CUDA when torch sees it,
``dtype: auto`` takes bfloat16 where the GPU computes it natively (float16 on older GPUs, float32
on CPU), and ``batch_size: auto`` sizes batches from the GPU's free memory: the first batch of one
item measures what an item costs at peak, the rest are as large as the free memory allows (less a
reserve), and a batch that still runs out of memory is halved and retried, never lost. On CPU,
``auto`` is a fixed size: batching there buys little and only delays the first results.

torch is imported when a function needs it, so the offline profile never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

AUTO = "auto"
BatchSize = int | Literal["auto"]
DTYPES = ("auto", "float32", "float16", "bfloat16")

T = TypeVar("T")
R = TypeVar("R")


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else as written."""
    if requested != AUTO:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(requested: str, device: str) -> str:
    """``auto`` -> bfloat16 on a GPU that computes it natively, float16 on an older GPU, float32
    on CPU (where half precision is slower, not faster)."""
    if requested not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {requested!r}")
    if requested != AUTO:
        return requested
    if not device.startswith("cuda"):
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def batch_size_from_memory(
    free_bytes: int, per_item_bytes: int, *, reserve: float = 0.2, cap: int = 256
) -> int:
    """How many items fit in ``free_bytes`` keeping ``reserve`` of it spare (at least one)."""
    if per_item_bytes <= 0:
        return cap
    return max(1, min(cap, int(free_bytes * (1.0 - reserve)) // per_item_bytes))


class CudaMemory:
    """The GPU's free memory and the peak an operation allocated (torch.cuda)."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def free(self) -> int:
        return int(self.torch.cuda.mem_get_info(self.device)[0])

    def start_peak(self) -> int:
        self.torch.cuda.synchronize(self.device)
        self.torch.cuda.reset_peak_memory_stats(self.device)
        return int(self.torch.cuda.memory_allocated(self.device))

    def peak_since(self, baseline: int) -> int:
        self.torch.cuda.synchronize(self.device)
        return int(self.torch.cuda.max_memory_allocated(self.device)) - baseline

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return isinstance(exc, self.torch.cuda.OutOfMemoryError)

    def release(self) -> None:
        self.torch.cuda.empty_cache()


@dataclass
class BatchPlan:
    """How the batches of one run were sized: shown in logs and benchmarks."""

    sizes: list[int] = field(default_factory=list)
    per_item_bytes: int | None = None
    halved: int = 0  # batches that ran out of memory and were split


class Batcher:
    """Runs ``run`` over items in batches: a fixed size, or sized from free GPU memory.

    ``memory`` is ``CudaMemory`` on a GPU; ``None`` (CPU) makes ``auto`` mean ``cpu_size``.
    ``run`` must return one result per item of its batch, in order.
    """

    def __init__(
        self,
        size: BatchSize,
        *,
        memory: Any | None = None,
        cpu_size: int = 8,
        cap: int = 256,
        reserve: float = 0.2,
    ) -> None:
        if size != AUTO and (not isinstance(size, int) or size < 1):
            raise ValueError(f"batch size must be a positive integer or 'auto', got {size!r}")
        self.size, self.memory, self.cap, self.reserve = size, memory, cap, reserve
        self.cpu_size = cpu_size
        self.per_item: int | None = None  # learnt once, kept for later runs
        self.plan = BatchPlan()

    @classmethod
    def for_device(cls, size: BatchSize, device: str, **kwargs: Any) -> Batcher:
        memory = CudaMemory(device) if str(device).startswith("cuda") else None
        return cls(size, memory=memory, **kwargs)

    def next_size(self) -> int:
        if self.size != AUTO:
            return self.size
        if self.memory is None:
            return self.cpu_size
        if self.per_item is None:
            return 1  # measured on this first batch
        return batch_size_from_memory(
            self.memory.free(), self.per_item, reserve=self.reserve, cap=self.cap
        )

    def run(self, items: Sequence[T], run: Callable[[Sequence[T]], list[R]]) -> list[R]:
        self.plan = BatchPlan(per_item_bytes=self.per_item)
        results: list[R] = []
        start = 0
        while start < len(items):
            size = self.next_size()
            batch = items[start : start + size]
            try:
                results.extend(self._measured(batch, run))
            except Exception as exc:
                if not self.will_retry(exc, len(batch)):
                    raise
                self.memory.release()
                self.plan.halved += 1
                half = max(1, len(batch) // 2)
                # what one item costs was underestimated: scale it so this size would have fit
                self.per_item = max(self.per_item or 1, self.memory.free() // half)
                continue  # retried from the same item with a smaller batch
            self.plan.sizes.append(len(batch))
            start += len(batch)
        self.plan.per_item_bytes = self.per_item
        return results

    def will_retry(self, exc: BaseException, batch_len: int) -> bool:
        """True when ``run`` raising ``exc`` on a batch this long is retried smaller: an
        out-of-memory error of an ``auto`` batch of two or more (callers that isolate failures
        must let it through)."""
        adaptive = self.size == AUTO and self.memory is not None
        return adaptive and batch_len > 1 and self.memory.is_out_of_memory(exc)

    def _measured(self, batch: Sequence[T], run: Callable[[Sequence[T]], list[R]]) -> list[R]:
        if self.size != AUTO or self.memory is None or self.per_item is not None:
            return run(batch)
        baseline = self.memory.start_peak()
        out = run(batch)
        self.per_item = max(1, self.memory.peak_since(baseline) // max(1, len(batch)))
        self.plan.per_item_bytes = self.per_item
        return out


def autocast(device: str, dtype: str):
    """A context that computes in ``dtype`` (bfloat16/float16) on ``device``; a no-op for
    float32. Weights stay as loaded: only the matrix products run in half precision."""
    import contextlib

    import torch

    if dtype == "float32":
        return contextlib.nullcontext()
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    return torch.autocast(device_type=kind, dtype=getattr(torch, dtype))
