"""Inference on users' own images: the API and ``tools/infer.py``."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from mmmtcp.apis import inference_model, init_model
from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py')


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=tuple(
                 f'c{i}' for i in range(40))))), path)
    return path, model.state_dict()


def test_api_predicts_every_task_at_image_size(checkpoint):
    path, state = checkpoint
    model = init_model(CONFIG, path, device='cpu')
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value)
    assert model.dataset_meta['classes'][0] == 'c0'
    image = np.random.RandomState(0).randint(0, 255, (50, 70, 3), np.uint8)
    result = inference_model(model, image)
    assert result.pred_sem_seg.data.shape == (1, 50, 70)
    assert result.pred_depth_map.data.shape == (1, 50, 70)
    normals = result.pred_normal_map.data
    assert normals.shape == (3, 50, 70)
    assert torch.allclose(normals.norm(dim=0), torch.ones(50, 70), atol=1e-4)
    edge = result.pred_edge_map.data
    assert edge.min() >= 0 and edge.max() <= 1
    batch = inference_model(model, [image, image[:40]])
    assert len(batch) == 2
    assert batch[1].pred_sem_seg.data.shape == (1, 40, 70)


def test_infer_tool_writes_a_picture_per_image(checkpoint, tmp_path):
    path, _ = checkpoint
    images = tmp_path / 'images'
    images.mkdir()
    rng = np.random.RandomState(1)
    for i in range(2):
        cv2.imwrite(str(images / f'img{i}.png'),
                    rng.randint(0, 255, (48, 64, 3), np.uint8))
    out_dir = tmp_path / 'vis'
    written = _load_tool('infer').main(
        [CONFIG, path, str(images), '--out-dir',
         str(out_dir)])
    assert sorted(osp.basename(p) for p in written) == ['img0.png',
                                                        'img1.png']
    for p in written:
        picture = cv2.imread(p)
        # input + 4 task columns of the 64-pixel-wide image
        assert picture is not None and picture.shape[1] == 5 * 64
    with pytest.raises(FileNotFoundError, match='missing.png'):
        _load_tool('infer').main(
            [CONFIG, path, str(tmp_path / 'missing.png')])
