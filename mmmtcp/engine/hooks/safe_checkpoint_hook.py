"""Checkpoint saving that never loses the last good checkpoint.

mmengine's ``CheckpointHook`` (0.10.x) deletes the oldest kept checkpoint
*before* writing the new one, writes the new one in place, and then points
``last_checkpoint`` at it. With ``max_keep_ckpts=1`` a process killed
between those steps leaves no checkpoint at all, or a truncated one, and a
``last_checkpoint`` naming a missing file, so ``--resume`` fails. It also
saves whatever the model holds, including parameters or BatchNorm
statistics that have become inf/NaN after a divergence, and then rotates the
last finite checkpoint away.

:class:`SafeCheckpointHook` keeps mmengine's options and file names and
changes the order and the checks:

1. Before every save (periodic, last and best), in multi-process runs the
   buffers (e.g. BatchNorm running statistics, which each rank updates
   with its own batches) are averaged over the ranks, so every rank and
   the checkpoint hold the same model; then the parameters and buffers
   are checked on every rank; if any is non-finite, nothing is written and
   training stops with an error naming the tensors and the last finite
   checkpoint.
2. The checkpoint is written atomically (temporary file, ``fsync``,
   rename: :class:`~mmmtcp.engine.AtomicLocalBackend`).
3. ``last_checkpoint`` is then replaced atomically, and only then is the
   oldest checkpoint beyond ``max_keep_ckpts`` deleted. At every moment
   ``last_checkpoint`` names a complete file.
4. A new best checkpoint (``save_best``) is written before the one it
   replaces is removed (mmengine removes first).
5. A checkpoint file that this run did not write (e.g. of an earlier run
   in the same work dir) is never overwritten: it is renamed
   ``<name>.kept-<timestamp>`` first, with a warning.
6. No checkpoint is written after an iteration whose step was skipped for a
   non-finite loss (``SkipNonFiniteOptimWrapper``).
7. Resuming automatically (``resume=True`` without ``load_from``, i.e.
   ``tools/train.py --resume``) takes the newest *readable* checkpoint of
   the work dir: a missing or broken newer one (e.g. written by an older
   version, or by another program) is skipped with a warning naming it.

For a remote ``out_dir`` (e.g. ``s3://``) or explicit ``backend_args``,
writes go through that backend as in mmengine; the checks of 1, 6 and 7 still
apply.
"""
import glob
import logging
import os
import os.path as osp
import re
import zipfile
import zlib
from typing import List, Optional

import torch
from mmengine.dist import (all_reduce, all_reduce_params, get_world_size,
                           is_main_process)
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmmtcp.utils import BrokenCheckpointError, check_checkpoint_file
from mmseg.registry import HOOKS
from ..atomic_local_backend import TMP_TEMPLATE, atomic_write
from ..optimizers import wrappers_of


class NonFiniteModelError(RuntimeError):
    """Raised instead of saving a model with non-finite parameters or
    buffers."""


def nonfinite_tensors(model: torch.nn.Module) -> List[str]:
    """Names of the floating-point parameters and buffers of ``model``
    holding a NaN or an infinity.

    Args:
        model (nn.Module): The model (unwrapped or wrapped).

    Returns:
        list[str]: ``state_dict`` keys of the non-finite tensors.
    """
    if is_model_wrapper(model):
        model = model.module
    return [
        name for name, value in model.state_dict().items()
        if torch.is_tensor(value) and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def last_checkpoint_hint(runner) -> str:
    """Describe the last checkpoint written in this run (for errors)."""
    last = runner.message_hub.get_info('last_ckpt')
    if last is None:
        return 'no checkpoint has been written in this work dir yet'
    return f'the last finite checkpoint is {last}'


def check_checkpoint_crc(path: str) -> None:
    """Check the CRC-32 of every member of a zip-format checkpoint.

    :func:`~mmmtcp.utils.check_checkpoint_file` reads only the archive's
    directory, which catches a file cut off while being written; a file
    damaged in the middle (a disk or copy error) keeps its directory and is
    only caught here, by reading every member once.

    Args:
        path (str): A file that passed ``check_checkpoint_file``.

    Raises:
        BrokenCheckpointError: If a member's data does not match its CRC.
    """
    if not zipfile.is_zipfile(path):
        return  # the legacy pickle format has no checksums
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
        raise BrokenCheckpointError(
            f'Checkpoint {path} is corrupt ({e}).') from None
    if bad is not None:
        raise BrokenCheckpointError(
            f'Checkpoint {path} is corrupt: the data of its member {bad} '
            'does not match its checksum (damaged after it was written).')


def find_resumable_checkpoint(work_dir: str,
                              ckpt_dir: str,
                              filename_tmpl: str = 'iter_{}.pth'
                              ) -> Optional[str]:
    """The newest readable checkpoint of a work dir.

    Candidates are the file named by ``<work_dir>/last_checkpoint`` and the
    files of ``ckpt_dir`` matching ``filename_tmpl``, newest step first.
    Missing or broken candidates (cut off, or damaged in the middle:
    :func:`check_checkpoint_crc`) are skipped with a warning naming them.

    Args:
        work_dir (str): The run's work dir (holds ``last_checkpoint``).
        ckpt_dir (str): Folder of the checkpoints.
        filename_tmpl (str): Checkpoint name pattern with one ``{}`` for
            the step. Defaults to ``'iter_{}.pth'``.

    Returns:
        str | None: The checkpoint to resume from; None when the work dir
        has no checkpoint at all.

    Raises:
        BrokenCheckpointError: If checkpoints exist but none is readable.
    """
    head, _, tail = filename_tmpl.partition('{}')
    pattern = re.compile(re.escape(head) + r'(\d+)' + re.escape(tail) + '$')

    def step_of(path: str) -> int:
        match = pattern.match(osp.basename(path))
        return int(match.group(1)) if match else -1

    named = None
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    found = [
        p for p in glob.glob(osp.join(glob.escape(ckpt_dir), '*'))
        if pattern.match(osp.basename(p))
    ]
    candidates = sorted(set(found), key=step_of, reverse=True)
    if named is not None:
        if osp.abspath(named) in map(osp.abspath, candidates):
            candidates.remove(next(p for p in candidates
                                   if osp.abspath(p) == osp.abspath(named)))
        # the pointer wins among checkpoints of the same step
        index = next((i for i, p in enumerate(candidates)
                      if step_of(p) < step_of(named)), len(candidates))
        candidates.insert(index, named)
    broken = []
    for path in candidates:
        if not osp.isfile(path):
            print_log(
                f'Resume: {pointer} names {path}, which does not exist; '
                'looking for an older checkpoint.',
                logger='current',
                level=logging.WARNING)
            continue
        try:
            check_checkpoint_file(path)
            check_checkpoint_crc(path)
        except BrokenCheckpointError as e:
            broken.append(str(e))
            print_log(
                f'Resume: skipping broken checkpoint {path} ({e}).',
                logger='current',
                level=logging.WARNING)
            continue
        return path
    if broken:
        raise BrokenCheckpointError(
            f'Cannot resume from {ckpt_dir}: no readable checkpoint. ' +
            ' '.join(broken))
    return None


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with atomic saving, safe rotation, a finiteness
    check and resume from the newest readable checkpoint.

    Takes every argument of :class:`mmengine.hooks.CheckpointHook`
    (``interval``, ``by_epoch``, ``max_keep_ckpts``, ``save_best``,
    ``out_dir``, ...); see the module docstring for what changes.
    """

    def before_run(self, runner) -> None:
        """Pick the newest readable checkpoint for automatic resuming.

        mmengine calls ``before_run`` before ``load_or_resume``; setting the
        checkpoint to resume from there is what ``--resume PATH`` does.
        """
        super().before_run(runner)
        if not getattr(runner, '_resume', False) or \
                runner._load_from is not None:
            return
        path = find_resumable_checkpoint(runner.work_dir,
                                         self._ckpt_dir(runner),
                                         self.filename_tmpl)
        if path is not None:
            runner.logger.info(f'Resuming from {path}, the newest readable '
                               'checkpoint of the work dir.')
            runner._load_from = path

    def _ckpt_dir(self, runner) -> str:
        """The folder checkpoints go to (as ``CheckpointHook`` computes
        it in ``before_train``)."""
        out_dir = self.out_dir or runner.work_dir
        if out_dir != runner.work_dir:
            out_dir = osp.join(out_dir,
                               osp.basename(runner.work_dir.rstrip(osp.sep)))
        return out_dir

    def before_train(self, runner) -> None:
        out_dir = self.out_dir or runner.work_dir
        self._atomic = (self.backend_args is None
                        and self.file_client_args is None
                        and '://' not in str(out_dir))
        if self._atomic:
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        #: checkpoint files this run has written
        self._written = set()
        if self._atomic and is_main_process():
            for tmp in glob.glob(
                    osp.join(
                        glob.escape(self.out_dir),
                        TMP_TEMPLATE.format('*'))):
                runner.logger.warning(
                    f'Removing {tmp}, left by a save that was interrupted.')
                os.remove(tmp)

    @staticmethod
    def _skipped_last(runner) -> bool:
        """Whether the optimizer wrapper skipped the last iteration's step
        for a non-finite loss (:class:`~mmmtcp.engine.SkipNonFiniteOptimWrapper`,
        every wrapper of an ``OptimWrapperDict``)."""
        return any(
            getattr(w, 'skipped_last', False)
            for w in wrappers_of(getattr(runner, 'optim_wrapper', None)))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Save as ``CheckpointHook`` does, except after an iteration whose
        step was skipped for a non-finite loss: the model's predictions on
        that batch were non-finite, so no checkpoint (nor the last one) is
        written from it."""
        if not self.by_epoch and self._skipped_last(runner):
            if self.every_n_train_iters(runner, self.interval,
                                        self.save_begin) or (
                                            self.save_last and
                                            self.is_last_train_iter(runner)):
                runner.logger.warning(
                    f'SafeCheckpointHook: no checkpoint at iteration '
                    f'{runner.iter + 1}: its loss was non-finite and the '
                    'step was skipped.')
            return
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train_epoch(self, runner) -> None:
        """Save as ``CheckpointHook`` does, unless the epoch's last step was
        skipped for a non-finite loss."""
        if self.by_epoch and self._skipped_last(runner):
            runner.logger.warning(
                f'SafeCheckpointHook: no checkpoint at epoch '
                f'{runner.epoch + 1}: the loss of its last iteration was '
                'non-finite and the step was skipped.')
            return
        super().after_train_epoch(runner)

    def _check_finite(self, runner, what: str) -> None:
        if get_world_size() > 1:
            all_reduce_params(runner.model.buffers(), op='mean')
        bad = nonfinite_tensors(runner.model)
        count = torch.tensor([float(len(bad))])
        if get_world_size() > 1:
            all_reduce(count)
        if count.item() == 0:
            return
        where = (f'{len(bad)} tensor(s) on this rank: '
                 f'{", ".join(bad[:8])}{" ..." if len(bad) > 8 else ""}'
                 if bad else 'tensors of another rank')
        raise NonFiniteModelError(
            f'SafeCheckpointHook: at iteration {runner.iter + 1} the model '
            f'holds NaN/inf values in {where}; {what} is not written and '
            f'training stops, {last_checkpoint_hint(runner)}. Training '
            'diverged: lower the learning rate '
            '(optim_wrapper.optimizer.lr) or clip gradients '
            '(optim_wrapper.clip_grad), then resume from that checkpoint '
            '(tools/train.py CONFIG --resume PATH).')

    def _keep_foreign_file(self, runner, path: str) -> None:
        """Move aside a file at ``path`` that this run did not write (a
        checkpoint of an earlier run in the same work dir), so that saving
        never overwrites it: it is renamed ``<path>.kept-<timestamp>``,
        which no resume picks up, with a warning naming both."""
        if not osp.exists(path) or osp.abspath(path) in self._written:
            return
        kept = f'{path}.kept-{runner.timestamp}'
        index = 1
        while osp.exists(kept):
            kept = f'{path}.kept-{runner.timestamp}-{index}'
            index += 1
        os.replace(path, kept)
        runner.logger.warning(
            f'SafeCheckpointHook: {path} was not written by this run (an '
            f'earlier run in this work dir?); it is kept as {kept} instead '
            'of being overwritten.')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """Save a new best checkpoint, then remove the one it replaces.

        mmengine removes the previous ``best_*.pth`` before writing the new
        one, so a process killed in between leaves no best checkpoint. Here
        mmengine's method runs with the previous paths hidden (it then
        removes nothing), and the files it replaced are removed after the
        new ones are complete: at every moment at least one best file
        exists.
        """
        if self.save_best is None:
            return
        self._check_finite(runner, 'the best checkpoint')
        # one key indicator: `best_ckpt_path`; several: `best_ckpt_path_dict`
        previous_single = getattr(self, 'best_ckpt_path', None)
        previous = dict(getattr(self, 'best_ckpt_path_dict', None) or {})
        self.best_ckpt_path = None
        if previous:
            self.best_ckpt_path_dict = {k: None for k in previous}
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            replaced = []
            if self.best_ckpt_path is None:
                self.best_ckpt_path = previous_single
            elif previous_single not in (None, self.best_ckpt_path):
                replaced.append(previous_single)
            for key, old in previous.items():
                new = self.best_ckpt_path_dict.get(key)
                if new is None:
                    self.best_ckpt_path_dict[key] = old
                elif old not in (None, new):
                    replaced.append(old)
        if is_main_process():
            for path in replaced:
                self._remove_replaced_best(runner, path)

    def _remove_replaced_best(self, runner, path: str) -> None:
        """Remove a best checkpoint that a newer one has replaced."""
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)
        else:
            return
        runner.logger.info(f'The previous best checkpoint {path} is removed')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        ckpt_filename = self.filename_tmpl.format(step)
        self._check_finite(runner, ckpt_filename)
        if not self._atomic:
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        expired = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        if is_main_process():
            self._keep_foreign_file(runner, self.last_ckpt)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # atomic through the backend; the state saved above lists this file
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        self._written.add(osp.abspath(self.last_ckpt))
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     self.last_ckpt)
        for old in expired:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
