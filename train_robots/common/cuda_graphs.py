"""Replay a function of fixed-shape tensors as CUDA graphs (one graph per input shape).

A plan for one episode is hundreds of small kernels (5 iterations x 10 imagined steps x a
dozen operations); launched one by one from Python, a GPU spends its time waiting for the
launches, not computing. Captured once per shape and replayed, the whole imagination and
cost of an iteration is a single launch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class CudaGraphs:
    """`fn(*tensors, **options) -> tuple of tensors`, replayed from a graph captured for each
    (shapes, dtypes, options) it meets. The returned tensors are the graph's own buffers: the
    next call overwrites them, so read (or copy) them first."""

    def __init__(self, fn: Callable[..., tuple[torch.Tensor, ...]], warmup: int = 2):
        self.fn, self.warmup = fn, warmup
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], tuple[torch.Tensor, ...]]] = {}

    def __call__(self, *tensors: torch.Tensor | None, **options) -> tuple[torch.Tensor, ...]:
        """Positional arguments are tensors (or None, an absent input); options are hashable."""
        shapes = tuple(None if t is None else (tuple(t.shape), t.dtype, t.device) for t in tensors)
        key = (shapes, tuple(sorted(options.items())))
        if key not in self.graphs:
            self.graphs[key] = self._capture(tensors, options)
        graph, inputs, outputs = self.graphs[key]
        for static, tensor in zip(inputs, tensors):
            if tensor is not None:
                static.copy_(tensor)
        graph.replay()
        return outputs

    def _capture(self, tensors: tuple[torch.Tensor | None, ...], options: dict):
        inputs = [None if t is None else t.clone() for t in tensors]
        device = next(t.device for t in tensors if t is not None)
        # Warm up on a side stream (allocator, lazy initialisation), as capture requires.
        stream = torch.cuda.Stream(device=device)
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(self.warmup):
                self.fn(*inputs, **options)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outputs = self.fn(*inputs, **options)
        return graph, inputs, outputs
