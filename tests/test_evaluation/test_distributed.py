"""MultiTaskMetric under distributed evaluation (gloo, 2 CPU processes)."""
import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dist_eval import eval_worker
from test_multi_task_metric import ALL_TASKS, META, make_sample, planar_scene
from tool_runs import free_port

# the protocol's boundary settings (one-to-one matching, SEISM thresholds)
CFG = dict(tasks=ALL_TASKS, coherence=True)
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



@pytest.mark.skipif(not dist.is_available(), reason='no torch.distributed')
def test_two_ranks_equal_one_process(tmp_path):
    torch.set_num_threads(1)
    out_file = str(tmp_path / 'metrics.json')
    mp.spawn(
        eval_worker,
        args=(2, free_port(), out_file, evaluate, NUM),
        nprocs=2,
        join=True)
    with open(out_file) as f:
        distributed = json.load(f)
    single = evaluate(list(range(NUM)))
    assert distributed.keys() == single.keys()
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value), key
