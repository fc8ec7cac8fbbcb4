"""MultiTaskMetric under distributed evaluation (gloo, 2 CPU processes)."""
import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from test_multi_task_metric import ALL_TASKS, META, make_sample, planar_scene

CFG = dict(tasks=ALL_TASKS, coherence=True, num_thresholds=9)
NUM = 5


def samples():
    rng = np.random.default_rng(11)
    out = []
    for i in range(NUM):
        gts = planar_scene(i)
        preds = dict(gts)
        preds['semseg'] = rng.integers(0, 3, gts['semseg'].shape)
        preds['human_parts'] = rng.integers(0, 7, gts['semseg'].shape)
        preds['depth'] = gts['depth'] + rng.normal(0, 0.2,
                                                    gts['depth'].shape)
        preds['normals'] = gts['normals'] + rng.normal(
            0, 0.3, gts['normals'].shape)
        preds['edge'] = rng.random(gts['edge'].shape).astype(np.float32)
        preds['saliency'] = rng.random(gts['edge'].shape).astype(np.float32)
        out.append(make_sample(f's{i}', gts, preds))
    return out


def evaluate(indices):
    from mmmtcp.evaluation import MultiTaskMetric
    metric = MultiTaskMetric(**CFG)
    metric.dataset_meta = META
    data = samples()
    metric.process(None, [data[i].to_dict() for i in indices])
    return metric.evaluate(NUM)


def worker(rank: int, world: int, port: int, out_file: str) -> None:
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    # DefaultSampler order with padding: rank 0 -> 0, 2, 4; rank 1 -> 1, 3, 0
    padded = list(range(NUM)) + [0]
    metrics = evaluate(padded[rank::world])
    if rank == 0:
        with open(out_file, 'w') as f:
            json.dump(metrics, f)
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason='no torch.distributed')
def test_two_ranks_equal_one_process(tmp_path):
    torch.set_num_threads(1)
    out_file = str(tmp_path / 'metrics.json')
    mp.spawn(worker, args=(2, free_port(), out_file), nprocs=2, join=True)
    with open(out_file) as f:
        distributed = json.load(f)
    single = evaluate(list(range(NUM)))
    assert distributed.keys() == single.keys()
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value), key
