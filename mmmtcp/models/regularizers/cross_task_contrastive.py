"""Cross-task contrastive regularization.

A training-only loss after "Contrastive Multi-Task Dense Prediction"
(Yang, Ye, Xu, AAAI 2023): a task's features are made consistent with
another task's labels. For every target task ``t`` and every iteration a
source task ``s != t`` is drawn (seeded, reproducible across runs, resumes
and ranks); a small projector for the pair ``(t, s)`` maps ``t``'s decoder
features at a sample of pixels to an embedding, and ``s``'s ground truth
says which sampled pixels belong together. What it says is up to the kind
of ``s`` (:meth:`~mmmtcp.tasks.BaseTaskKind.contrast_targets`, which also
says which pixels are valid, and
:meth:`~mmmtcp.tasks.BaseTaskKind.contrast_positives`):

- label kinds (``semseg`` / ``human_parts``): same class;
- depth kinds: relative depth difference ``|d_i - d_j| / max(d_i, d_j)``
  under ``depth_threshold``;
- normal kinds: angle under ``normal_threshold`` degrees;
- boundary kinds (``edge``): same region, i.e. the same connected component
  of the non-boundary pixels (boundary pixels themselves are not sampled);
- binary kinds (``saliency``): same side of the mask.

A task whose kind has no ``contrast_targets`` (e.g. ``regression``) cannot
be a source; it can be a target.

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
from mmmtcp.tasks import check_tasks, get_task


@MODELS.register_module()
class CrossTaskContrastiveRegularizer(BaseModule):
    """Contrastive multi-task regularizer (training only).

    Args:
        tasks (Sequence[str]): Tasks of the model.
        in_channels (int | dict[str, int]): Channels of each task's decoder
            features (one int for all tasks, or per task).
        pairs (dict[str, list[str]], optional): For each target task, the
            source tasks it may draw; a source's kind must implement
            ``contrast_targets``. Defaults to, for every task, every other
            task whose kind does (tasks left without a source are no
            targets).
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
            usable = [s for s in self.tasks if self._can_be_source(s)]
            pairs = {t: [s for s in usable if s != t] for t in self.tasks}
            pairs = {t: sources for t, sources in pairs.items() if sources}
            if not pairs:
                raise ValueError(
                    f'regularizer.tasks {self.tasks}: no task can be a '
                    'contrastive source (none of their kinds implements '
                    '`contrast_targets`)')
        self.pairs = {}
        for target, sources in pairs.items():
            check_tasks([target], 'regularizer.pairs')
            sources = check_tasks(sources, f'regularizer.pairs.{target}')
            bad = [s for s in [target, *sources] if s not in self.tasks]
            if bad or target in sources or not sources:
                raise ValueError(
                    f'regularizer.pairs.{target}={sources} must name other '
                    f'tasks among {self.tasks}')
            for source in sources:
                if not self._can_be_source(source):
                    raise ValueError(
                        f'regularizer.pairs.{target}: task {source!r} (kind '
                        f'{get_task(source).kind!r}) cannot be a contrastive '
                        'source: its kind does not implement '
                        '`contrast_targets` (which pixels are valid and '
                        'what is compared), as label, binary, boundary, '
                        'depth and normal kinds do')
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
        self.normal_threshold = normal_threshold
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
    @staticmethod
    def _can_be_source(task: str) -> bool:
        """Whether the kind of ``task`` says which pixels belong together."""
        return get_task(task).kind_impl.supports('contrast_targets')

    def _source_labels(self, source: str, data_samples: List[SegDataSample],
                       size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Source ground truth at ``size``, as the source's kind compares
        it (:meth:`~mmmtcp.tasks.BaseTaskKind.contrast_targets`).

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
            value, valid = spec.kind_impl.contrast_targets(gt, size)
            values.append(value)
            valids.append(valid)
        return torch.stack(values), torch.stack(valids)

    def positive_mask(self, source: str, values: Tensor) -> Tensor:
        """Which pairs of sampled pixels are positives, as the source's kind
        decides (:meth:`~mmmtcp.tasks.BaseTaskKind.contrast_positives`).

        Args:
            source (str): Source task.
            values (Tensor): Source ground truth of N sampled pixels,
                shape (N, C).

        Returns:
            Tensor: Boolean (N, N) matrix (the diagonal is included).
        """
        return get_task(source).kind_impl.contrast_positives(
            values,
            depth_threshold=self.depth_threshold,
            normal_threshold=self.normal_threshold)

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
