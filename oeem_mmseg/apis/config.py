"""Loading a config and applying the command-line options to it, for every
config of this repository (segmentation: ``default_scope='mmseg'``;
classification: ``default_scope='mmpretrain'``), on GPUs or, when there is
none, on the CPU."""
import difflib
import logging
import os
import os.path as osp
import re
from typing import Any, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm

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
    for key, value in cfg_options.items():
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
        else:
            check_option_type(key, node, value)


def check_option_type(key: str, old: Any, new: Any) -> None:
    """Refuse ``--cfg-options key=new`` where the config's ``old`` value is a
    number or a boolean and ``new`` is not (``max_iters=abc``,
    ``lr=fast``)."""
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    wanted = None
    if new is None:
        pass
    elif isinstance(old, bool) and not isinstance(new, bool):
        wanted = 'True or False'
    elif number(old) and not number(new):
        wanted = 'a number'
    if wanted:
        raise OEEMInputError(
            f'--cfg-options {key}={new}: want {wanted} (the config has '
            f'{old!r})')


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
    try:
        cfg = Config.fromfile(config)
    except SyntaxError as error:
        where = f' line {error.lineno}' if error.lineno else ''
        name = (error.filename if error.filename
                and not error.filename.startswith('<') else config)
        raise OEEMInputError(
            f'{name}{where}: not a valid config file ({error.msg})') from None
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
    the model is built (:func:`~.train_test.check_resume`). A backbone
    that would train from random weights with frozen parts is refused
    (:func:`check_trainable_backbone`)."""
    check_output_location(cfg.work_dir, '--work-dir',
                          inputs=data_folders(cfg))
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
    if not cfg.get('load_from'):
        check_trainable_backbone(cfg)
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
    (``init_cfg=None``) in such a config give one warning.
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
            where = ('(ImageNet weights: see docs/get_started.md, '
                     f'"ImageNet weights"); {hint}' if has_scratch else
                     '(set model.backbone.init_cfg.checkpoint)')
            raise OEEMInputError(
                f'{checkpoint}: backbone weights of {cfg.filename} not found '
                f'{where}')
        return
    if not has_scratch:
        return
    print_log(
        f'{cfg.filename} is made for ImageNet weights but its backbone starts '
        f'from random ones (init_cfg=None): {hint}',
        logger='current',
        level=logging.WARNING)


def has_pretrained_weights(backbone_cfg: dict) -> bool:
    """Whether a backbone config loads weights: an ``init_cfg`` entry of
    type ``Pretrained`` that names a checkpoint, or ``pretrained``."""
    if backbone_cfg.get('pretrained'):
        return True
    init_cfg = backbone_cfg.get('init_cfg') or []
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(entry.get('type') == 'Pretrained' and entry.get('checkpoint')
               for entry in entries)


def build_for_inspection(cfg: Config, module_cfg: dict) -> nn.Module:
    """The module of ``module_cfg`` (part of ``cfg``), built in the config's
    registry scope for inspecting its parameters' names and shapes: on the
    ``meta`` device (no memory, no weights), or on the CPU for a module
    whose constructor reads tensor values (mmpretrain's ResNet)."""
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmseg')):
        try:
            with torch.device('meta'):
                return MODELS.build(module_cfg)
        except (RuntimeError, NotImplementedError):
            return MODELS.build(module_cfg)


def build_backbone(cfg: Config) -> nn.Module:
    """The backbone of ``cfg.model`` (:func:`build_for_inspection`), for
    inspecting what trains."""
    return build_for_inspection(cfg, cfg.model.backbone)


def frozen_parts(backbone: nn.Module) -> Tuple[List[str], List[str]]:
    """``(BN layers, parameters)`` of ``backbone`` that do not train: the
    normalization layers (``_BatchNorm``) left in eval mode by
    ``backbone.train()`` (``norm_eval``) and the parameters that require no
    gradient (``norm_cfg.requires_grad=False``, a frozen stem or stages).
    Sets ``backbone`` to train mode."""
    backbone.train()
    bn_eval = [name for name, module in backbone.named_modules()
               if isinstance(module, _BatchNorm) and not module.training]
    frozen = [name for name, param in backbone.named_parameters()
              if not param.requires_grad]
    return bn_eval, frozen


def check_trainable_backbone(cfg: Config) -> None:
    """Refuse to train a backbone that starts from random weights (no
    ``Pretrained`` init_cfg; the caller skips configs with ``load_from``)
    but keeps BN layers in eval mode or freezes parameters.

    Freezing suits pretrained weights (the paper's classifier on ImageNet
    ResNet-38); a freshly initialised frozen BN normalises nothing (running
    mean 0, variance 1, never updated) and a frozen random stem is noise, so
    the network learns only the label prior. The backbone itself accepts
    the combination, as MMSeg's do: it is built with ``init_cfg=None`` for
    every test and fine-tuning run, whose weights come from a checkpoint.
    """
    backbone_cfg = cfg.model.get('backbone') or {}
    if not backbone_cfg or has_pretrained_weights(backbone_cfg):
        return
    bn_eval, frozen = frozen_parts(build_backbone(cfg))
    if not bn_eval and not frozen:
        return
    what = []
    if bn_eval:
        what.append(f'keeps {len(bn_eval)} BN layers in eval mode (norm_eval)')
    if frozen:
        shown = ', '.join(frozen[:3]) + (', ...' if len(frozen) > 3 else '')
        what.append(f'freezes {len(frozen)} parameters ({shown})')
    raise OEEMInputError(
        f'{cfg.filename}: the backbone starts from random weights (no '
        'Pretrained init_cfg, no load_from) but ' + ' and '.join(what) +
        ': a fresh BN in eval mode normalises nothing and frozen random '
        'weights never learn (the model learns only the label prior); train '
        'them (model.backbone: norm_cfg.requires_grad=True, norm_eval=False, '
        'no frozen stem or stages) or give weights')


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


def dataset_folders(dataset_cfg: dict) -> List[str]:
    """The folders a dataset config reads files from (``data_prefix``
    entries, under ``data_root`` unless absolute; ``data_root`` itself
    without them), wrapped datasets (``dataset``, ``datasets``) included."""
    if not isinstance(dataset_cfg, dict):
        return []
    folders = []
    for inner in [dataset_cfg.get('dataset')] + list(
            dataset_cfg.get('datasets') or []):
        folders += dataset_folders(inner)
    root = dataset_cfg.get('data_root') or ''
    prefixes = [prefix
                for prefix in (dataset_cfg.get('data_prefix') or {}).values()
                if isinstance(prefix, str) and prefix]
    folders += [osp.join(root, prefix) for prefix in prefixes]
    if root and not prefixes:
        folders.append(root)
    return folders


def data_folders(cfg: Config) -> List[str]:
    """The folders the dataloaders of ``cfg`` (training, validation, test)
    read: outputs may not go there (:func:`check_output_location`)."""
    return [folder
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')
            for folder in dataset_folders(
                (cfg.get(loader) or {}).get('dataset') or {})]


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
    inputs = data_folders(cfg)
    check_output_location(cfg.work_dir, '--work-dir', inputs=inputs)
    if show_dir:
        check_output_location(show_dir, '--show-dir', inputs=inputs)
    if out:
        if not segmentation and not out.endswith(('.pkl', '.pickle')):
            raise OEEMInputError(
                f'--out {out}: classification predictions are written as a '
                'pickle file, want a name ending in .pkl')
        check_output_location(out, '--out', folder=segmentation,
                              inputs=inputs)
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
