"""Latency and throughput of a multi-task model's inference.

The timing behind ``tools/get_flops.py --latency`` (importable on its own:
:func:`benchmark` returns the numbers, :func:`benchmark_report` the summary
the tool prints). The model is put in eval mode on the device (CUDA when
available, else CPU) and ``model.predict`` (what ``mode='predict'`` runs at
test time: forward, resize to the input size, per-task activation; or the
raw forward ``model(x, mode='tensor')``) is run on random ``(B, 3, H, W)``
inputs under ``torch.no_grad()``: untimed warm-up iterations, then timed
ones (CUDA synchronized around each). No checkpoint is needed: the weights
do not change the cost.
"""
import time
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import revert_sync_batchnorm

__all__ = ['pick_device', 'benchmark', 'benchmark_report']


def pick_device(device: Optional[str] = None) -> torch.device:
    """The device to benchmark on.

    Args:
        device (str, optional): Requested device; None picks CUDA when it is
            available, else the CPU.

    Returns:
        torch.device: The device.
    """
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(device)


def benchmark(model: nn.Module,
              shape: Sequence[int],
              batch_size: int = 1,
              warmup: int = 5,
              iters: int = 20,
              device: Optional[str] = None,
              forward: str = 'predict') -> Dict[str, Any]:
    """Latency and throughput of the model's inference on random inputs.

    Args:
        model (nn.Module): A built multi-task segmentor (moved to the device
            and put in eval mode here).
        shape (Sequence[int]): ``(H, W)`` of the input.
        batch_size (int): Images per forward. Defaults to 1.
        warmup (int): Untimed iterations first. Defaults to 5.
        iters (int): Timed iterations. Defaults to 20.
        device (str, optional): See :func:`pick_device`.
        forward (str): ``'predict'`` (``model.predict``: forward, resize
            and activation) or ``'tensor'`` (``model(x, mode='tensor')``).
            Defaults to ``'predict'``.

    Returns:
        dict: ``ms_per_image``, ``images_per_s``, ``ms_per_batch``
        (median over the timed iterations), ``device`` (str),
        ``device_name``, ``threads`` (``torch.get_num_threads()``),
        ``batch_size``, ``shape``, ``warmup``, ``iters`` and ``forward``.
    """
    if forward not in ('predict', 'tensor'):
        raise ValueError(f"forward must be 'predict' or 'tensor', got "
                         f'{forward!r}')
    dev = pick_device(device)
    model = revert_sync_batchnorm(model).to(dev).eval()
    inputs = torch.randn(batch_size, 3, *shape, device=dev)
    cuda = dev.type == 'cuda'

    def run() -> None:
        if forward == 'predict':
            model.predict(inputs)
        else:
            model(inputs, mode='tensor')

    times = []
    with torch.no_grad():
        for i in range(warmup + iters):
            if cuda:
                torch.cuda.synchronize(dev)
            start = time.perf_counter()
            run()
            if cuda:
                torch.cuda.synchronize(dev)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    total = sum(times)
    images = iters * batch_size
    name = torch.cuda.get_device_name(dev) if cuda else 'CPU'
    return dict(ms_per_image=1000.0 * total / images,
                images_per_s=images / total,
                ms_per_batch=1000.0 * sorted(times)[len(times) // 2],
                device=str(dev),
                device_name=name,
                threads=torch.get_num_threads(),
                batch_size=batch_size,
                shape=tuple(shape),
                warmup=warmup,
                iters=iters,
                forward=forward)


def benchmark_report(result: Dict[str, Any]) -> str:
    """Human-readable summary of :func:`benchmark`.

    Args:
        result (dict): Output of :func:`benchmark`.

    Returns:
        str: The lines to print.
    """
    h, w = result['shape']
    timed = ('model.predict (forward, resize, activation)' if result['forward']
             == 'predict' else "model(inputs, mode='tensor')")
    return '\n'.join([
        f"Device: {result['device']} ({result['device_name']}), torch "
        f"threads: {result['threads']}",
        f"Input: ({result['batch_size']}, 3, {h}, {w}) random, "
        f'{timed}, torch.no_grad()',
        f"Iterations: {result['warmup']} warm-up, {result['iters']} timed",
        f"Latency: {result['ms_per_image']:.2f} ms/image "
        f"(median {result['ms_per_batch']:.2f} ms/batch)",
        f"Throughput: {result['images_per_s']:.2f} images/s",
    ])
