"""Training throughput with the whole data path, against a naive baseline, plus the models' cost table.

1. ``aulib`` path vs. naive baseline, same model, same prepared data, in the same run:
   - ``aulib``: a batch gathered from the memory-mapped crops in one indexing operation, augmented on the device
     (:func:`aulib.training.augment.augment_batch`), targets rendered on the device
     (:func:`aulib.method.heatmaps.render_targets`),
     bf16 autocast where supported, channels-last (:class:`aulib.training.trainer.Trainer`);
   - ``naive``: fp32, a ``DataLoader`` whose dataset builds each item's target on the CPU in Python (one
     :func:`render_targets` call per item), default collation, contiguous memory format.
   Both include loading, augmentation (the naive path resizes only), targets, forward, backward and the optimiser.
2. The cost table of the models (parameters, GFLOP per image, inference ms per image, training images per second),
   which checks the paper's claim that one Hourglass costs a fifth of five per-AU Hourglasses.

Usage:
    python benchmarks/bench_train.py --data PREPARED [--model tiny] [--batch 32] [--steps 12] [--cost-models ...]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from timing import median_seconds
from torch.utils.data import DataLoader, Dataset

from aulib.data.dataset import PreparedDataset
from aulib.inference.precision import autocast_dtype
from aulib.method.crops import resize_batch
from aulib.method.heatmaps import render_targets
from aulib.models import count_parameters, create_model, gflops
from aulib.training.config import TrainConfig
from aulib.training.trainer import Trainer


class NaiveItems(Dataset):
    """One item at a time, the target built on the CPU in Python for each item."""

    def __init__(self, dataset: PreparedDataset, input_size: int, heatmap_size: int) -> None:
        self.dataset, self.input_size, self.heatmap_size = dataset, input_size, heatmap_size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        item = self.dataset[i]
        image, landmarks = resize_batch(item["image"][None], item["landmarks"][None], self.input_size)
        labels = torch.nan_to_num(item["labels"])[None]
        target = render_targets(landmarks.double(), labels.double(), self.dataset.aus,
                                size=self.heatmap_size).float()
        return image[0], target[0]


def bench_paths(args: argparse.Namespace) -> None:
    config = TrainConfig.from_profile("smoke", data=args.data, out="/tmp/bench-train-unused", model=args.model,
                                      batch_size=args.batch, device=args.device, compile=args.compile)
    trainer = Trainer(config, progress=False)
    order = torch.randperm(len(trainer.train_set), generator=torch.Generator().manual_seed(0))
    position = {"k": 0}

    def aulib_step() -> None:
        k = position["k"] % max(1, len(order) // args.batch)
        position["k"] += 1
        loss = trainer.compute_loss(trainer.batch(order[k * args.batch:(k + 1) * args.batch], train=True))
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()

    model = create_model(args.model).to(trainer.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(NaiveItems(trainer.train_set, model.input_size, model.heatmap_size),
                        batch_size=args.batch, shuffle=True, num_workers=0)
    batches = iter(loader)

    def naive_step() -> None:
        nonlocal batches
        try:
            images, targets = next(batches)
        except StopIteration:
            batches = iter(loader)
            images, targets = next(batches)
        output = model(images.to(trainer.device))
        loss = F.huber_loss(output, targets.to(trainer.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    fast = median_seconds(aulib_step, args.steps, warmup=2)
    slow = median_seconds(naive_step, args.steps, warmup=2)
    threads = torch.get_num_threads()
    device = torch.cuda.get_device_name() if trainer.device.type == "cuda" else f"CPU, {threads} threads"
    precision = trainer.amp_dtype or "fp32"
    compiled = ", torch.compile" if args.compile else ""
    print(f"training step, model {args.model}, batch {args.batch}, on {device}{compiled}; median of {args.steps} steps")
    print(f"  aulib ({precision}, device augmentation and targets): {args.batch / fast:8.1f} images/s")
    print(f"  naive (fp32, per-item CPU targets in a DataLoader):   {args.batch / slow:8.1f} images/s")
    print(f"  ratio: {slow / fast:.2f}x")


def bench_costs(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    amp = autocast_dtype("auto", device)
    print(f"\ncost table on {device} ({amp or 'fp32'}); inference = batch {args.cost_batch} under inference_mode")
    print(f"{'model':<16}{'params':>12}{'GFLOP/img':>11}{'infer ms/img':>14}{'train img/s':>13}")
    for name in args.cost_models:
        model = create_model(name).to(device).to(memory_format=torch.channels_last)
        size = model.input_size
        x = torch.randn(args.cost_batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        repeats = args.cost_repeats
        infer_s = median_seconds(lambda m=model, x=x: infer_once(m, x, amp), repeats, warmup=1)
        train_s = median_seconds(lambda m=model, x=x, o=optimizer: train_once(m, x, o, amp), repeats, warmup=1)
        print(f"{name:<16}{count_parameters(model):>12,}{gflops(create_model(name), size):>11.2f}"
              f"{infer_s / args.cost_batch * 1e3:>14.1f}{args.cost_batch / train_s:>13.1f}")


def infer_once(model: torch.nn.Module, x: torch.Tensor, amp: torch.dtype | None) -> None:
    with torch.inference_mode(), torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        model.eval()(x)


def train_once(
    model: torch.nn.Module, x: torch.Tensor, optimizer: torch.optim.Optimizer, amp: torch.dtype | None
) -> None:
    with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        output = model.train()(x)
    output.float().square().mean().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a prepared dataset (e.g. the smoke SynthAU set)")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cost-models", nargs="*", default=["tiny", "per-au-tiny", "resnet18-small", "paper",
                                                              "per-au-paper", "resnet18"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the aulib path's model")
    parser.add_argument("--skip-costs", action="store_true", help="only the aulib vs. naive comparison")
    parser.add_argument("--cost-batch", type=int, default=4)
    parser.add_argument("--cost-repeats", type=int, default=3)
    args = parser.parse_args()
    bench_paths(args)
    if not args.skip_costs:
        bench_costs(args)


if __name__ == "__main__":
    main()
