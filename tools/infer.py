"""Run a multi-task model on your own images and write one picture per
image with every task's prediction.

Example::

    python tools/infer.py CONFIG CHECKPOINT img1.png img_dir/ --out-dir vis
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import mmcv
from mmengine.utils import mkdir_or_exist

# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmmtcp.apis import inference_model, init_model  # noqa: E402
from mmseg.registry import VISUALIZERS  # noqa: E402

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict every task of a multi-task model on images')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        'inputs', nargs='+', help='image files and/or directories of images')
    parser.add_argument(
        '--out-dir', default='infer_results', help='where pictures go')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    return parser.parse_args(argv)


def collect_images(inputs: List[str]) -> List[str]:
    """Expand directories into their image files (sorted)."""
    images = []
    for item in inputs:
        if osp.isdir(item):
            images += sorted(
                osp.join(item, f) for f in os.listdir(item)
                if f.lower().endswith(IMG_EXTENSIONS))
        elif osp.isfile(item):
            images.append(item)
        else:
            raise FileNotFoundError(f'Input {item!r} does not exist')
    if not images:
        raise FileNotFoundError(f'No images found in {inputs}')
    return images


def main(argv=None) -> List[str]:
    args = parse_args(argv)
    images = collect_images(args.inputs)
    model = init_model(args.config, args.checkpoint, device=args.device)
    vis_cfg = dict(model.cfg.visualizer)
    vis_cfg.update(name='mmmtcp_infer', save_dir=None, vis_backends=None)
    visualizer = VISUALIZERS.build(vis_cfg)
    visualizer.dataset_meta = model.dataset_meta
    mkdir_or_exist(args.out_dir)
    written = []
    for path in images:
        result = inference_model(model, path)
        image = mmcv.imread(path, channel_order='rgb')
        out_file = osp.join(args.out_dir,
                            osp.splitext(osp.basename(path))[0] + '.png')
        visualizer.add_datasample(
            osp.basename(path),
            image,
            result,
            draw_gt=False,
            draw_pred=True,
            out_file=out_file)
        written.append(out_file)
        print(f'{path} -> {out_file}')
    return written


if __name__ == '__main__':
    main()
