"""Data-parallel training under torchrun (PyTorch's DistributedDataParallel), in the one training loop.

    torchrun --standalone --nproc_per_node 2 -m train.classifier --recipe digits-fast --out runs/ddp
    ranks = Ranks.current()        # rank, world_size; Ranks() alone is the single process
    idx = ranks.shard(batch_idx)   # this rank's part of the run's global batch
    ranks.sum(tensor)              # all-reduced sums: metrics of every rank's images

torchrun starts N copies of a command with RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous in
their environment; `joined()` connects them (gloo on the CPU, nccl on CUDA). Outside torchrun
there is one rank and every method here is the identity, so the trainer has one code path.
How a run is split, and why:

- The run's batches stay those of one process (runs.ShuffledBatches: global batch b is a pure
  function of (seed, b)), and rank r trains on the slice idx[r::N] of each (DistributedSampler's
  rule; a batch that does not divide by N is padded with its first indices). So batch_size is the
  global batch, the step count and the learning-rate schedule do not depend on N, and a run
  resumes exactly with another number of ranks.
- DDP averages the gradients of the N shards: the update is the one-process update of the global
  batch, except for BatchNorm, whose statistics are each rank's shard's own unless the BatchNorm
  layers are synchronised (SyncBatchNorm: CUDA only in PyTorch).
- Metrics are sums all-reduced over ranks: the training loss is the global batch's, and the test
  set is split between the ranks, each evaluating with rank 0's BatchNorm statistics, so the
  printed test accuracy is the whole test set's, of the model rank 0 saves.
- Stopping is agreed: a Stop (Ctrl-C, a time limit) on any rank stops every rank at the same step,
  and all save nothing but rank 0, which writes every file (checkpoints carry the bare model's
  weights, never DDP's "module." prefix).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextmanager
def joined():
    """Inside this block the process is in torchrun's group (when torchrun started it; nothing
    happens otherwise): gloo on the CPU, nccl when each rank has a GPU of its own."""
    if not launched_by_torchrun() or dist.is_initialized():
        yield
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available() and local_rank < torch.cuda.device_count():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
    else:
        dist.init_process_group("gloo")
    try:
        yield
        # Every rank done with its collectives before any rank tears the group down: a rank that
        # destroyed it while another still sent was seen ending in gloo's "terminate called
        # without an active exception" after a finished run (once in CI). Not after an error or
        # Ctrl-C: the other ranks may never arrive.
        dist.barrier()
    finally:
        dist.destroy_process_group()


@dataclass(frozen=True)
class Ranks:
    """This process's place among the ranks of a data-parallel run (default: the only one)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> "Ranks":
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def writes(self) -> bool:
        """Whether this rank writes the run's files and prints: rank 0."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """On CUDA, each rank its own GPU (torchrun's LOCAL_RANK)."""
        if device.type == "cuda" and self.world_size > 1 and device.index is None:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch: indices[rank::world_size], after padding the batch
        with its first indices to a multiple of world_size."""
        if self.world_size == 1:
            return indices
        pad = -len(indices) % self.world_size
        if pad:
            indices = torch.cat([indices, indices[:pad]])
        return indices[self.rank::self.world_size]

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a tensor made for the global batch (the noise of a GAN step)."""
        return x if self.world_size == 1 else x[self.shard(torch.arange(len(x), device=x.device))]

    def check_batch(self, batch_size: int) -> None:
        """A ValueError when a global batch leaves a rank fewer than 2 images (BatchNorm needs 2)."""
        if batch_size < 2 * self.world_size:
            raise ValueError(f"a batch of {batch_size} split over {self.world_size} ranks leaves fewer than 2 "
                             f"images per rank: raise the batch size or use fewer ranks")

    def part(self, n: int) -> slice:
        """This rank's contiguous share of range(n), for evaluating a dataset in parts."""
        start, stop = n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size
        return slice(start, stop)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """The sum of `values` over all ranks (a new tensor on values' device; the identity for one rank)."""
        return self.all_reduce(values, "SUM")

    def largest(self, value: int) -> int:
        """The largest of every rank's `value`: how the ranks agree on a stop, or a choice."""
        if self.world_size == 1:  # asked at every step: no tensor for one process
            return value
        return int(self.all_reduce(torch.tensor([value]), "MAX").item())

    def all_reduce(self, values: torch.Tensor, op: str) -> torch.Tensor:
        if self.world_size == 1:
            return values
        # nccl reduces tensors on the rank's GPU, gloo on the CPU
        on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
        reduced = values.to(on, copy=True)
        dist.all_reduce(reduced, op=getattr(dist.ReduceOp, op))
        return reduced.to(values.device)

    def average_gradients(self, model: nn.Module) -> None:
        """Every parameter's gradient replaced by its mean over the ranks, in one all-reduce: the
        data-parallel update, for training steps that DDP's wrapper cannot hold (the GAN's)."""
        if self.world_size == 1:
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        mean = self.sum(torch.cat([g.reshape(-1) for g in grads])) / self.world_size
        for g, part in zip(grads, mean.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))

    def share_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm's running statistics) on every rank, as DDP does before each
        forward: after a step each rank's statistics have moved with its own shard, and the model
        that is evaluated and saved is rank 0's."""
        if self.world_size == 1:
            return
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    def wrap(self, model: nn.Module, sync_batchnorm: bool = False) -> tuple[nn.Module, nn.Module]:
        """(the model to save and evaluate, the module to train): the same module for one rank,
        else the model (BatchNorm synchronised if asked) inside DistributedDataParallel."""
        if self.world_size == 1:
            return model, model
        param = next(model.parameters())
        if sync_batchnorm:
            if param.device.type == "cpu":
                raise ValueError("Synchronised BatchNorm needs a GPU per rank (PyTorch's SyncBatchNorm has no CPU "
                                 "version); on the CPU leave it off: each rank's BatchNorm uses its own shard.")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [param.device.index] if param.device.type == "cuda" else None
        return model, nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
