"""Where tensors live: device choice, CPU threads, mixed precision and device-side timers."""

from __future__ import annotations

import contextlib
import time

import torch

from seqrec.config import ConfigError


def pick_device(preference: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for `auto`; a named device must be available."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if preference == "auto":
        return torch.device(next(name for name in ("cuda", "mps", "cpu") if available[name]))
    if not available.get(preference, False):
        raise ConfigError(f"train.device is {preference} but this machine has no {preference} device that torch "
                          "can use; set train.device: auto (or cpu) in the config and rerun")
    return torch.device(preference)


def configure_threads(threads: int) -> None:
    """Use exactly the CPU threads the Snakemake rule was given."""
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # can only be set once per process
        torch.set_num_interop_threads(threads)


def autocast(device: torch.device):
    """bf16 autocast on cuda; full precision elsewhere (CPU bf16 is slower than fp32 on most CPUs)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class SectionTimer:
    """Accumulates the time of a code section without synchronising the device on every call.

    On cuda it records events and reads them once in `total()`; elsewhere it uses perf_counter.
    """

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.seconds = 0.0
        self.events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []

    @contextlib.contextmanager
    def section(self):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self.events.append((start, end))
        else:
            t0 = time.perf_counter()
            yield
            self.seconds += time.perf_counter() - t0

    def total(self) -> float:
        """Seconds spent in the section so far (synchronises once on cuda)."""
        if self.events:
            torch.cuda.synchronize()
            self.seconds += sum(s.elapsed_time(e) for s, e in self.events) / 1000
            self.events.clear()
        return self.seconds


class CudaGraphed:
    """Runs `update(x)` as a replayed CUDA graph, one captured graph per input shape.

    `update` may only modify existing tensors in place; `state` lists them so that the warm-up run
    that CUDA graph capture requires leaves them as they were. A chain of tiny kernels then costs
    one launch instead of one each.
    """

    def __init__(self, update, state: list[torch.Tensor]):
        self.update, self.state = update, state
        self.graphs: dict[tuple[int, ...], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}

    def __call__(self, x: torch.Tensor) -> None:
        if tuple(x.shape) not in self.graphs:
            self.graphs[tuple(x.shape)] = self._capture(x)
        graph, static_input = self.graphs[tuple(x.shape)]
        static_input.copy_(x)
        graph.replay()

    def _capture(self, x: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        static_input = x.clone()
        saved = [t.clone() for t in self.state]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.update(static_input)
        torch.cuda.current_stream().wait_stream(side)
        for tensor, value in zip(self.state, saved):
            tensor.copy_(value)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.update(static_input)
        return graph, static_input
