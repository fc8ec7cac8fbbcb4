"""Worker of the distributed-evaluation tests: evaluates a metric on the
samples a ``DefaultSampler`` would give each of two gloo ranks."""
import json
import os
from typing import Callable, List


def eval_worker(rank: int, world: int, port: int, out_file: str,
                evaluate: Callable[[List[int]], dict], num: int) -> None:
    """Run ``evaluate(indices)`` on this rank's share of ``num`` samples
    (padded as ``DefaultSampler`` pads) and let rank 0 write the result.

    Args:
        rank (int): Process rank (given by ``mp.spawn``).
        world (int): Number of processes.
        port (int): Free port on 127.0.0.1.
        out_file (str): JSON file for rank 0's metrics.
        evaluate (callable): Module-level function of the test.
        num (int): Number of samples.
    """
    import torch.distributed as dist
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    total = -(-num // world) * world
    padded = (list(range(num)) * 2)[:total]
    metrics = evaluate(padded[rank::world])
    if rank == 0:
        with open(out_file, 'w') as f:
            json.dump(metrics, f)
    dist.destroy_process_group()
