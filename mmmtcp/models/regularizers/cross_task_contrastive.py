"""Cross-task contrastive regularization.

A training-only loss after "Contrastive Multi-Task Dense Prediction"
(Yang, Ye, Xu, AAAI 2023): a task's features are made consistent with
another task's labels. For every target task ``t`` and every iteration a
source task ``s != t`` is drawn (seeded, reproducible across runs, resumes
and ranks); a small projector for the pair ``(t, s)`` maps ``t``'s decoder
features at a sample of pixels to an embedding, and ``s``'s ground truth
says which sampled pixels belong together:

- ``semseg`` / ``human_parts``: same class;
- ``depth``: relative depth difference ``|d_i - d_j| / max(d_i, d_j)`` under
  ``depth_threshold``;
- ``normals``: angle under ``normal_threshold`` degrees;
- ``edge``: same region, i.e. the same connected component of the
  non-boundary pixels (boundary pixels themselves are not sampled);
- ``saliency``: same side of the saliency mask.

Positives are pulled together and negatives pushed apart with a batch-hard
triplet margin loss (default) or a supervised InfoNCE loss. Ignored or
invalid pixels of the source task are never sampled, and an image with too
few valid pixels (or without both a positive and a negative) contributes
zero, not NaN.

The projectors are applied only to the sampled pixels and only in
``loss()``: inference (``predict``/``_forward``) never calls this module, so
predictions, FLOPs and latency are unchanged.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType
from mmmtcp.utils import IGNORE_INDEX, check_tasks, get_task


@MODELS.register_module()
class CrossTaskContrastiveRegularizer(BaseModule):
    """Contrastive multi-task regularizer (training only).

    Args:
        tasks (Sequence[str]): Tasks of the model.
        in_channels (int | dict[str, int]): Channels of each task's decoder
            features (one int for all tasks, or per task).
        pairs (dict[str, list[str]], optional): For each target task, the
            source tasks it may draw. Defaults to every other task, for
            every task.
        embed_channels (int): Embedding channels. Defaults to 64.
        hidden_channels (int): Hidden channels of the projector MLP.
            Defaults to 128.
        num_samples (int): Pixels sampled per image. Defaults to 256.
        min_valid (int): Minimum valid pixels for an image to contribute.
            Defaults to 16.
        loss_type (str): ``'triplet'`` or ``'infonce'``.
        margin (float): Margin of the triplet loss on cosine distances.
            Defaults to 0.5.
        temperature (float): Temperature of the InfoNCE loss. Defaults
            to 0.1.
        depth_threshold (float): Relative depth difference under which two
            pixels are positives. Defaults to 0.1.
        normal_threshold (float): Angle in degrees under which two pixels
            are positives. Defaults to 15.
        loss_weight (float): Weight of each ``loss_contrast_<t>`` term.
            Defaults to 0.1.
        seed (int): Seed of the source-task and pixel draws. Defaults to 0.
        norm_cfg (dict, optional): Norm layer of the projector. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation of the projector. Defaults to ReLU.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 in_channels: Union[int, Dict[str, int]],
                 pairs: Optional[Dict[str, List[str]]] = None,
                 embed_channels: int = 64,
                 hidden_channels: int = 128,
                 num_samples: int = 256,
                 min_valid: int = 16,
                 loss_type: str = 'triplet',
                 margin: float = 0.5,
                 temperature: float = 0.1,
                 depth_threshold: float = 0.1,
                 normal_threshold: float = 15.0,
                 loss_weight: float = 0.1,
                 seed: int = 0,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tasks = check_tasks(tasks, 'regularizer.tasks')
        if len(self.tasks) < 2:
            raise ValueError('regularizer.tasks needs at least two tasks, got '
                             f'{self.tasks}')
        if loss_type not in ('triplet', 'infonce'):
            raise ValueError("regularizer.loss_type must be 'triplet' or "
                             f"'infonce', got {loss_type!r}")
        if pairs is None:
            pairs = {t: [s for s in self.tasks if s != t] for t in self.tasks}
        self.pairs = {}
        for target, sources in pairs.items():
            check_tasks([target], 'regularizer.pairs')
            sources = check_tasks(sources, f'regularizer.pairs.{target}')
            bad = [s for s in [target, *sources] if s not in self.tasks]
            if bad or target in sources or not sources:
                raise ValueError(
                    f'regularizer.pairs.{target}={sources} must name other '
                    f'tasks among {self.tasks}')
            self.pairs[target] = sources
        if isinstance(in_channels, int):
            in_channels = {t: in_channels for t in self.tasks}
        missing = [t for t in self.pairs if t not in in_channels]
        if missing:
            raise KeyError(f'regularizer.in_channels has no entry for {missing}')
        self.num_samples = num_samples
        self.min_valid = min_valid
        self.loss_type = loss_type
        self.margin = margin
        self.temperature = temperature
        self.depth_threshold = depth_threshold
        self.normal_cos = float(np.cos(np.deg2rad(normal_threshold)))
        self.loss_weight = loss_weight
        self.seed = seed
        self._calls = 0

        self.projectors = nn.ModuleDict()
        for target, sources in self.pairs.items():
            for source in sources:
                self.projectors[f'{target}_to_{source}'] = nn.Sequential(
                    ConvModule(
                        in_channels[target],
                        hidden_channels,
                        1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg),
                    nn.Conv2d(hidden_channels, embed_channels, 1))

    # ------------------------------------------------------------------
    # draws
    def _iteration(self) -> int:
        """Training iteration from the message hub (same on every rank and
        after resuming), or a call counter outside a Runner."""
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter')
        if it is None:
            it = self._calls
        self._calls += 1
        return int(it)

    def draw_sources(self, iteration: int) -> Dict[str, str]:
        """The source task of every target task at ``iteration``."""
        rng = np.random.default_rng([self.seed, iteration, 0])
        return {
            t: sources[int(rng.integers(len(sources)))]
            for t, sources in self.pairs.items()
        }

    # ------------------------------------------------------------------
    # labels of the source task at feature resolution
    def _source_labels(self, source: str, data_samples: List[SegDataSample],
                       size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Source ground truth resized (nearest) to ``size``.

        Returns:
            tuple[Tensor, Tensor]: ``values`` of shape (B, C, h, w) and a
            boolean ``valid`` mask of shape (B, h, w).
        """
        spec = get_task(source)
        values, valids = [], []
        for sample in data_samples:
            if spec.gt_field not in sample:
                raise KeyError(
                    f'The contrastive regularizer uses task {source!r} as a '
                    f'source but the data sample has no {spec.gt_field!r}; '
                    'load that task in the dataset')
            gt = sample.get(spec.gt_field).data
            if source == 'edge':
                gt = self._edge_regions(gt)
            gt = F.interpolate(
                gt[None].float(), size=size, mode='nearest')[0]
            if spec.kind == 'depth':
                valid = gt[0] > 0
            elif spec.kind == 'normal':
                norm = gt.norm(dim=0)
                valid = norm > 0.5
                gt = gt / norm.clamp(min=1e-6)
            elif spec.is_label:
                valid = gt[0] != IGNORE_INDEX
            else:
                raise ValueError(
                    f'The contrastive regularizer cannot use task {source!r}'
                    f' of kind {spec.kind!r} as a source: positives are '
                    'defined for label, binary, boundary, depth and normal '
                    'kinds')
            values.append(gt)
            valids.append(valid)
        return torch.stack(values), torch.stack(valids)

    @staticmethod
    def _edge_regions(edge: Tensor) -> Tensor:
        """Connected regions between boundaries; boundaries become 255."""
        edge_np = edge[0].cpu().numpy()
        inside = (edge_np == 0).astype(np.uint8)
        _, regions = cv2.connectedComponents(inside, connectivity=4)
        regions = regions.astype(np.int64)
        regions[edge_np != 0] = IGNORE_INDEX
        # keep ids clear of the ignore value
        regions[(regions >= IGNORE_INDEX) & (edge_np == 0)] += 1
        return torch.from_numpy(regions)[None].to(edge.device)

    def positive_mask(self, source: str, values: Tensor) -> Tensor:
        """Which pairs of sampled pixels are positives.

        Args:
            source (str): Source task.
            values (Tensor): Source ground truth of N sampled pixels,
                shape (N, C).

        Returns:
            Tensor: Boolean (N, N) matrix (the diagonal is included).
        """
        kind = get_task(source).kind
        if kind == 'depth':
            d = values[:, 0]
            rel = (d[:, None] - d[None, :]).abs() / torch.maximum(
                d[:, None], d[None, :]).clamp(min=1e-6)
            return rel < self.depth_threshold
        if kind == 'normal':
            return values @ values.t() > self.normal_cos
        return values[:, 0][:, None] == values[:, 0][None, :]

    # ------------------------------------------------------------------
    def _unused_projectors_zero(self, used: str) -> Tensor:
        """Zero that depends on every projector except ``used``."""
        params = [
            p for name, proj in self.projectors.items() if name != used
            for p in proj.parameters()
        ]
        if not params:
            return torch.zeros(())
        return torch.stack([p.flatten()[0] for p in params]).sum() * 0.0

    def _pair_loss(self, emb: Tensor, pos: Tensor,
                   comparable: Tensor) -> Optional[Tensor]:
        """Mean loss over the anchors that have a positive and a negative.

        Args:
            emb (Tensor): (N, E) unit embeddings of the sampled pixels.
            pos (Tensor): (N, N) positives.
            comparable (Tensor): (N, N) pairs that may be positives or
                negatives at all (the same image).

        Returns:
            Tensor | None: The loss, None if no anchor qualifies.
        """
        n = emb.shape[0]
        eye = torch.eye(n, dtype=torch.bool, device=emb.device)
        pos = pos & ~eye
        neg = comparable & ~pos & ~eye
        anchors = pos.any(1) & neg.any(1)
        if not bool(anchors.any()):
            return None
        sim = emb @ emb.t()
        if self.loss_type == 'triplet':
            dist = 1 - sim
            hardest_pos = dist.masked_fill(~pos, -1.0).max(1).values
            hardest_neg = dist.masked_fill(~neg, 3.0).min(1).values
            loss = F.relu(hardest_pos - hardest_neg + self.margin)
            return loss[anchors].mean()
        logits = (sim / self.temperature).masked_fill(eye | ~comparable,
                                                      float('-inf'))
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        log_prob = log_prob.masked_fill(~pos, 0.0)
        mean_pos = log_prob.sum(1) / pos.sum(1).clamp(min=1)
        return -mean_pos[anchors].mean()

    def loss(self, task_feats: Dict[str, Tensor],
             data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """Contrastive losses, one ``loss_contrast_<target>`` per target.

        Args:
            task_feats (dict[str, Tensor]): Per-task decoder features
                (B, C, h, w).
            data_samples (list[SegDataSample]): Samples with ground truth.

        Returns:
            dict[str, Tensor]: The weighted losses.
        """
        iteration = self._iteration()
        sources = self.draw_sources(iteration)
        gen = torch.Generator().manual_seed(
            int(np.random.default_rng([self.seed, iteration, 1]).integers(
                2**31)))
        losses = {}
        for target, source in sources.items():
            if target not in task_feats:
                raise KeyError(f'The head returned no features for task '
                               f'{target!r} (has {sorted(task_feats)})')
            feats = task_feats[target]
            b, c, h, w = feats.shape
            values, valid = self._source_labels(source, data_samples, (h, w))
            picked_feats, picked_values, picked_ids = [], [], []
            for i in range(b):
                idx = valid[i].flatten().nonzero()[:, 0].cpu()
                if idx.numel() < self.min_valid:
                    continue
                choice = torch.randperm(idx.numel(), generator=gen)
                idx = idx[choice[:self.num_samples]].to(feats.device)
                picked_feats.append(feats[i].flatten(1)[:, idx])
                picked_values.append(values[i].flatten(1)[:, idx].t())
                picked_ids.append(idx.new_full((idx.numel(), ), i))
            # A parameter-free zero keeps the graph connected for DDP.
            total = feats.sum() * 0.0
            if picked_feats:
                name = f'{target}_to_{source}'
                sampled = torch.cat(picked_feats, dim=1)[None, :, :, None]
                emb = self.projectors[name](sampled)
                emb = F.normalize(emb[0, :, :, 0].t(), dim=1)
                # Every projector takes part in the graph every iteration,
                # so DDP needs no `find_unused_parameters`.
                total = total + self._unused_projectors_zero(name)
                # Pairs are formed within each image only.
                ids = torch.cat(picked_ids)
                same_image = ids[:, None] == ids[None, :]
                pos = self.positive_mask(source, torch.cat(picked_values))
                term = self._pair_loss(emb, pos & same_image, same_image)
                if term is not None:
                    total = total + term
            losses[f'loss_contrast_{target}'] = total * self.loss_weight
        return losses
