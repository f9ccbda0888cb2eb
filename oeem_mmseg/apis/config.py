"""Loading a config and applying the command-line options to it, for every
config of this repository (segmentation: ``default_scope='mmseg'``;
classification: ``default_scope='mmpretrain'``), on GPUs or, when there is
none, on the CPU."""
import difflib
import logging
import os
import os.path as osp
import re
from typing import Any, Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from ..utils.errors import OEEMInputError
from ..utils.io import check_output_location

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
# a --cfg-options key absent from the config, as close as this to an
# existing key at its level (difflib ratio), is taken for a typo of it
TYPO_SIMILARITY = 0.8


def check_cfg_options(cfg: Config, cfg_options: dict) -> None:
    """Refuse ``--cfg-options`` keys that look like typos.

    Each key is followed down the config (``a.b.0.c``: dict keys and list
    indices). Where a component is absent, the key adds a new entry; that is
    refused only when the component is close to (difflib ratio >=
    :data:`TYPO_SIMILARITY`) an existing key at the same level: ``modle``
    (``model``), ``train_dataloder``, ``train_cfg.max_iter`` (``max_iters``)
    are refused; ``work_dir``, ``randomness.deterministic``,
    ``model.backbone.init_cfg.type`` are new entries and taken.
    """
    for key in cfg_options:
        node: Any = cfg
        done: list = []
        for part in key.split('.'):
            where = '.'.join(done)
            if isinstance(node, (list, tuple)):
                if not (part.isdigit() and int(part) < len(node)):
                    raise OEEMInputError(
                        f'--cfg-options {key}: {where} is a list; its '
                        f'{len(node)} item(s) are {where}.0 to '
                        f'{where}.{len(node) - 1}')
                node = node[int(part)]
            elif hasattr(node, 'keys'):
                if part not in node:
                    close = difflib.get_close_matches(
                        part, [k for k in node.keys() if isinstance(k, str)],
                        n=1, cutoff=TYPO_SIMILARITY)
                    if close:
                        raise OEEMInputError(
                            f'--cfg-options {key}: the config has no '
                            f'{".".join(done + [part])}; did you mean '
                            f'{".".join(done + close)}? (a new key this close '
                            'to an existing one is taken for a typo)')
                    break
                node = node[part]
            else:
                raise OEEMInputError(
                    f'--cfg-options {key}: {where} is {node!r} in the '
                    'config, not a dict with keys')
            done.append(part)


def load_config(config: str,
                work_dir: Optional[str] = None,
                cfg_options: Optional[dict] = None,
                launcher: str = 'none') -> Config:
    """Read ``config``, apply ``cfg_options`` (typos refused:
    :func:`check_cfg_options`) and set ``work_dir`` (default
    ``./work_dirs/<config name>``) and ``launcher``."""
    if not osp.isfile(config):
        raise OEEMInputError(f'{config}: config file not found')
    if launcher not in LAUNCHERS:
        raise OEEMInputError(
            f'--launcher {launcher}: not one of {", ".join(LAUNCHERS)}')
    cfg = Config.fromfile(config)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    cfg.launcher = launcher
    return cfg


def _replace_sync_bn(node) -> None:
    """Recursively turn ``SyncBN`` norm configs into ``BN`` (in place)."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def adapt_to_device(cfg: Config) -> Config:
    """Make ``cfg`` runnable where it is run.

    Without CUDA: SyncBN becomes BN (SyncBN has no CPU kernel), distributed
    runs use gloo and a DDP wrapper that accepts CPU modules. With CUDA in a
    single process: SyncBN becomes BN too (it needs a process group).
    """
    on_gpu = torch.cuda.is_available()
    if not on_gpu or cfg.launcher == 'none':
        _replace_sync_bn(cfg._cfg_dict)
    if not on_gpu:
        env_cfg = cfg.setdefault('env_cfg', ConfigDict())
        env_cfg.setdefault('dist_cfg', ConfigDict())['backend'] = 'gloo'
        if cfg.launcher != 'none':
            cfg.model_wrapper_cfg = dict(type='CPUDistributedDataParallel')
    return cfg


def configure_train(cfg: Config,
                    resume: Optional[str] = None,
                    amp: bool = False) -> Config:
    """Apply ``--resume`` (``'auto'``: the latest checkpoint of work_dir, or a
    checkpoint path) and ``--amp`` (mixed precision, CUDA only), and check
    that the work dir can be written. The checkpoint itself is checked once
    the model is built (:func:`~.train_test.check_resume`)."""
    check_output_location(cfg.work_dir, '--work-dir')
    check_backbone_weights(cfg)
    if amp:
        if not torch.cuda.is_available():
            raise OEEMInputError('--amp: mixed precision needs a CUDA GPU')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = interrupted_checkpoint(cfg.work_dir)
    elif resume is not None:
        if not osp.isfile(resume):
            raise OEEMInputError(f'--resume {resume}: checkpoint not found')
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def interrupted_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from when a run was killed while MMEngine
    rewrote ``work_dir/last_checkpoint`` (it truncates, then writes, so the
    file is left empty; the checkpoint it was about to name is complete):
    the work dir's ``iter_N.pth`` or ``epoch_N.pth`` of largest N. None when
    ``last_checkpoint`` names a checkpoint or is absent (MMEngine's own
    choice stands)."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        if f.read().strip():
            return None
    numbered = []
    for name in os.listdir(work_dir):
        match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', name)
        if match:
            numbered.append((int(match.group(1)), osp.join(work_dir, name)))
    if not numbered:
        return None
    path = max(numbered)[1]
    print_log(f'--resume: {record} is empty (a run killed while writing it); '
              f'resuming from {path}', logger='current',
              level=logging.WARNING)
    return path


def check_backbone_weights(cfg: Config) -> None:
    """Refuse a backbone checkpoint that is not there, before anything is
    written, and name the from-scratch config (``<config>_scratch.py``
    beside it) when a config made for ImageNet weights would start from
    random ones.

    A missing local ``Pretrained`` file is an :class:`OEEMInputError` (with
    the from-scratch config when there is one); weights switched off
    (``init_cfg=None``) in such a config give one warning, and say when the
    config freezes BN layers or the stem (then the classifier learns only
    the label prior).
    """
    scratch = osp.splitext(cfg.filename or '')[0] + '_scratch.py'
    has_scratch = osp.isfile(scratch)
    hint = f'to train from random initialisation use {scratch}'
    backbone = cfg.model.get('backbone') or {}
    init_cfg = backbone.get('init_cfg')
    if isinstance(init_cfg, (list, tuple)):
        return
    if init_cfg is not None:
        checkpoint = init_cfg.get('checkpoint', '')
        if (init_cfg.get('type') == 'Pretrained' and '://' not in checkpoint
                and not osp.isfile(checkpoint)):
            where = ('(ImageNet weights: see the README, "ImageNet '
                     f'weights"); {hint}' if has_scratch else
                     '(set model.backbone.init_cfg.checkpoint)')
            raise OEEMInputError(
                f'{checkpoint}: backbone weights of {cfg.filename} not found '
                f'{where}')
        return
    if not has_scratch:
        return
    frozen = (backbone.get('norm_eval') or backbone.get('frozen_stem') or
              not (backbone.get('norm_cfg') or {}).get('requires_grad', True))
    print_log(
        f'{cfg.filename} is made for ImageNet weights but its backbone starts '
        'from random ones (init_cfg=None)' +
        ('; its frozen BN layers and stem then normalise nothing' if frozen
         else '') + f': {hint}',
        logger='current',
        level=logging.WARNING)


def _is_segmentation(cfg: Config) -> bool:
    return cfg.get('default_scope', 'mmseg') == 'mmseg'


def use_aug_test(cfg: Config) -> Config:
    """Switch inference to the paper's protocol: the config's
    ``aug_test_cfg`` (mode ``tile_aug``: test tiles, scales, flip) is merged
    into ``model.test_cfg``, whose sliding windows it keeps unless it sets
    its own."""
    if not _is_segmentation(cfg) or 'aug_test_cfg' not in cfg:
        raise OEEMInputError(
            '--aug-test: the config has no aug_test_cfg (it is for '
            'segmentation configs of this repository)')
    cfg.model.test_cfg = ConfigDict(
        {**(cfg.model.get('test_cfg') or {}), **cfg.aug_test_cfg})
    return cfg


def dataset_folders(dataset_cfg: dict) -> Sequence[str]:
    """The folders a dataset config reads files from (``data_prefix``
    entries, under ``data_root`` unless absolute)."""
    root = dataset_cfg.get('data_root') or ''
    return [osp.join(root, prefix)
            for prefix in (dataset_cfg.get('data_prefix') or {}).values()
            if isinstance(prefix, str) and prefix]


def configure_test(cfg: Config,
                   checkpoint: str,
                   out: Optional[str] = None,
                   show_dir: Optional[str] = None,
                   tta: bool = False,
                   aug_test: bool = False) -> Config:
    """Apply the test options, and check the output locations before
    anything runs.

    Args:
        checkpoint: Weights to test.
        out: Segmentation: folder for the predicted masks (PNG, class index
            per pixel). Classification: a ``.pkl`` file of the predictions.
        show_dir: Folder for painted predictions (overlays).
        tta: MMSeg's test-time augmentation (``tta_model``/``tta_pipeline``).
        aug_test: The paper's protocol (:func:`use_aug_test`: test tiles, 8
            scales x flip, batched sliding windows). Exclusive with ``tta``.
    """
    if tta and aug_test:
        raise OEEMInputError(
            '--tta and --aug-test exclude each other: --aug-test is the '
            "paper's tiled multi-scale + flip test, --tta MMSeg's test-time "
            'augmentation; choose one')
    if not osp.isfile(checkpoint):
        raise OEEMInputError(f'{checkpoint}: checkpoint file not found')
    segmentation = _is_segmentation(cfg)
    check_output_location(cfg.work_dir, '--work-dir')
    if show_dir:
        check_output_location(show_dir, '--show-dir')
    if out:
        if not segmentation and not out.endswith(('.pkl', '.pickle')):
            raise OEEMInputError(
                f'--out {out}: classification predictions are written as a '
                'pickle file, want a name ending in .pkl')
        check_output_location(
            out, '--out', folder=segmentation,
            inputs=dataset_folders(
                (cfg.get('test_dataloader') or {}).get('dataset') or {}))
    cfg.load_from = checkpoint
    # testing needs no training set: without these MMEngine builds no
    # training loop (a visualization hook asking for runner.iter would
    # otherwise load the training split and its masks)
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler'):
        cfg[key] = None
    if aug_test:
        use_aug_test(cfg)
    if tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise OEEMInputError('--tta: the config has no tta_model / '
                                 'tta_pipeline')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise OEEMInputError('--show-dir: the config has no '
                                 'visualization hook in default_hooks')
        if segmentation:
            hook['draw'] = True
            hook['interval'] = 1
            cfg.visualizer['save_dir'] = show_dir
        else:
            hook['enable'] = True
            hook['out_dir'] = show_dir
    if out:
        if segmentation:
            cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
                dict(type='SegPredictionWriterHook', out_dir=out)
            ]
        else:
            evaluators = cfg.test_evaluator
            if not isinstance(evaluators, (list, tuple)):
                evaluators = [evaluators]
            cfg.test_evaluator = list(evaluators) + [
                dict(type='DumpResults', out_file_path=out)
            ]
    return cfg
