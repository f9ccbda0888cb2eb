"""The foundation: config loading, device adaptation, checkpoint loading on
torch >= 2.6, and tools/train.py + tools/test.py on tiny configs (CPU)."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

import oeem_mmseg  # noqa: F401  (registers everything)
from oeem_mmseg.apis import (adapt_to_device, configure_test, configure_train,
                             load_config, use_aug_test)
from oeem_mmseg.utils import OEEMInputError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_tiny.py')
TINY_CLS = osp.join(REPO, 'tests', 'configs', 'cls_r38_tiny.py')
sys.path.insert(0, osp.join(REPO, 'tools'))
import test as test_tool  # noqa: E402
import train as train_tool  # noqa: E402


def data_root_options(root):
    return ['--cfg-options'] + [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]


def test_every_repository_config_loads():
    configs = glob.glob(osp.join(REPO, 'configs', 'oeem', '*.py'))
    assert len(configs) >= 8
    for path in configs:
        cfg = load_config(path)
        assert cfg.work_dir.endswith(osp.splitext(osp.basename(path))[0])
        assert 'oeem_mmseg' in cfg.custom_imports.imports


def test_ablation_configs_state_only_their_difference():
    oeem = Config.fromfile(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_oeem.py'))
    cmax = Config.fromfile(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_cmax.py'))
    assert oeem.model.decode_head.loss_decode.weight_type == 'l_norm'
    assert cmax.model.decode_head.loss_decode.weight_type == 'c_max'
    assert cmax.model.auxiliary_head.loss_decode.weight_type == 'c_max'
    assert cmax.model.auxiliary_head.loss_decode.loss_weight == 0.4
    fully = Config.fromfile(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_fully.py'))
    assert fully.train_dataloader.dataset.data_prefix.seg_map_path == 'masks'
    assert fully.model.decode_head.loss_decode.type == 'CrossEntropyLoss'
    ohem = Config.fromfile(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_ohem.py'))
    assert ohem.model.decode_head.sampler.type == 'OHEMPixelSampler'
    baseline = Config.fromfile(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_baseline.py'))
    for head, weight in (('decode_head', 1.0), ('auxiliary_head', 0.4)):
        assert baseline.model[head].loss_decode == dict(
            type='CrossEntropyLoss', loss_weight=weight)
        assert oeem.model[head].loss_decode == dict(
            type='OEEMLoss', weight_type='l_norm', loss_weight=weight)


def test_classification_configs_state_the_cam_input_size_once():
    for name, size, mode in (('cls_r38_glas.py', 224, None),
                             ('cls_r38_glas_quick.py', 112, 'fast')):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'oeem', name))
        assert cfg.default_scope == 'mmpretrain'
        assert cfg.cam_cfg.get('mode') == mode
        assert set(cfg.cam_cfg) - {'mode'} == {'scales', 'input_size'}
        assert cfg.cam_cfg.input_size == size
        pipelines = (cfg.train_dataloader.dataset.pipeline +
                     cfg.test_dataloader.dataset.pipeline)
        sizes = [t.scale for t in pipelines if 'scale' in t]
        assert sizes and set(sizes) == {size}


def test_bad_config_and_options_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_tool.main([str(tmp_path / 'missing.py')])
    assert exit_info.value.code == 2
    assert 'missing.py: config file not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        test_tool.main([TINY_SEG, str(tmp_path / 'nope.pth')])
    assert 'nope.pth: checkpoint file not found' in capsys.readouterr().err
    with pytest.raises(OEEMInputError, match='--resume'):
        configure_train(load_config(TINY_SEG), resume=str(tmp_path / 'x.pth'))


def test_tta_and_aug_test_together_are_one_line_error(tmp_path, capsys):
    checkpoint = tmp_path / 'ckpt.pth'
    checkpoint.touch()
    with pytest.raises(SystemExit) as exit_info:
        test_tool.main([TINY_SEG, str(checkpoint), '--tta', '--aug-test'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: --tta and --aug-test exclude each other')
    assert err.count('\n') == 1
    with pytest.raises(OEEMInputError, match='choose one'):
        configure_test(load_config(TINY_SEG), str(checkpoint), tta=True,
                       aug_test=True)


def test_paper_test_protocol_has_one_source():
    cfg = load_config(osp.join(REPO, 'configs/oeem/pspnet_r38_glas_oeem.py'))
    scales = [0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]
    resizes = cfg.tta_pipeline[-1].transforms[0]
    assert [t.scale_factor for t in resizes] == scales
    use_aug_test(cfg)
    assert cfg.model.test_cfg == dict(
        mode='tile_aug', tile_size=256, tile_stride=192, scales=scales,
        flip=True, crop_size=(320, 320), stride=(256, 256), batch_size=16)


def test_sync_bn_becomes_bn_without_gpu_or_process_group():
    cfg = load_config(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_oeem.py'))
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    adapt_to_device(cfg)
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    assert cfg.model.auxiliary_head.norm_cfg.type == 'BN'
    if not torch.cuda.is_available():
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_mmengine_checkpoints_load_on_new_torch(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = str(tmp_path / 'ckpt.pth')
    torch.save(
        dict(meta=dict(iter=3, seed=np.int64(0)),
             message_hub=dict(log_scalars={'loss': buffer}),
             state_dict={'w': torch.ones(2)}), path)
    checkpoint = _load_checkpoint(path, map_location='cpu')
    assert checkpoint['meta']['iter'] == 3
    assert checkpoint['message_hub']['log_scalars']['loss'].current() == 1.5
    with pytest.raises(FileNotFoundError):
        _load_checkpoint(str(tmp_path / 'absent.pth'))


def test_train_resume_and_test_segmentation(glas_prepared, tmp_path):
    work_dir = str(tmp_path / 'work')
    options = data_root_options(glas_prepared)
    train_tool.main([TINY_SEG, '--work-dir', work_dir] + options)
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    # resume: continue from iteration 2 to 3, not from scratch
    train_tool.main([TINY_SEG, '--work-dir', work_dir, '--resume'] + options
                    + ['train_cfg.max_iters=3', 'param_scheduler.0.end=3'])
    ckpt = torch.load(
        osp.join(work_dir, 'iter_3.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['iter'] == 3
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert 'Load checkpoint from' in open(logs[-1]).read() or \
        'resumed' in open(logs[-1]).read().lower()
    # the paper's test on that checkpoint, with predicted masks and overlays
    out, show = str(tmp_path / 'pred'), str(tmp_path / 'vis')
    metrics = test_tool.main([
        TINY_SEG, osp.join(work_dir, 'iter_3.pth'), '--work-dir', work_dir,
        '--aug-test', '--out', out, '--show-dir', show
    ] + options)
    assert 0 <= metrics['mIoU'] <= 100
    names = open(osp.join(glas_prepared, 'splits', 'test.txt')).read().split()
    assert sorted(os.listdir(out)) == sorted(n + '.png' for n in names)
    from oeem_mmseg.utils.io import read_binary_mask
    mask = read_binary_mask(osp.join(out, names[0] + '.png'))
    assert mask.shape == (120, 150)
    assert glob.glob(osp.join(show, '**', '*.png'), recursive=True)
    # MMSeg's own test-time augmentation works too
    metrics = test_tool.main([
        TINY_SEG, osp.join(work_dir, 'iter_3.pth'), '--work-dir', work_dir,
        '--tta'
    ] + options)
    assert 0 <= metrics['mIoU'] <= 100


def test_train_classification_config(glas_prepared, tmp_path):
    work_dir = str(tmp_path / 'cls')
    train_tool.main([TINY_CLS, '--work-dir', work_dir] +
                    data_root_options(glas_prepared))
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # the classifier is selected by the pseudo-mask mIoU of the val images
    assert osp.isfile(osp.join(work_dir, 'best_pseudo_mask_mIoU_epoch_1.pth'))
    scalars = [json.loads(line) for line in open(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0])]
    val = [entry for entry in scalars if 'pseudo_mask/mIoU' in entry]
    assert val and 0 <= val[0]['pseudo_mask/mIoU'] <= 100
    assert 0 <= val[0]['cam/mIoU'] <= 100
    metrics = test_tool.main([
        TINY_CLS, osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir,
        '--out', str(tmp_path / 'preds.pkl')
    ] + data_root_options(glas_prepared))
    assert 'multi-label/f1-score' in metrics
    assert osp.isfile(tmp_path / 'preds.pkl')


def test_distributed_training_on_two_cpu_processes(glas_prepared, tmp_path):
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PORT='29517', CUDA_VISIBLE_DEVICES='',
               OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), TINY_SEG, '2',
         '--work-dir', work_dir] + data_root_options(glas_prepared),
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    logs = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert 'world_size: 2' in logs or 'Distributed launcher: pytorch' in logs


def test_killed_training_resumes_to_the_same_final_iteration(
        glas_prepared, tmp_path):
    import signal
    import time
    work_dir = str(tmp_path / 'killed')
    command = [
        sys.executable, osp.join(REPO, 'tools', 'train.py'), TINY_SEG,
        '--work-dir', work_dir
    ] + data_root_options(glas_prepared) + [
        'train_cfg.max_iters=40', 'train_cfg.val_interval=40',
        'param_scheduler.0.end=40'
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.isfile(osp.join(work_dir, 'iter_3.pth')):
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not osp.isfile(osp.join(work_dir, 'iter_40.pth'))
    subprocess.run(command + ['--resume'], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300)
    final = torch.load(osp.join(work_dir, 'iter_40.pth'), map_location='cpu',
                       weights_only=False)
    assert final['meta']['iter'] == 40
    log = open(sorted(glob.glob(osp.join(work_dir, '*', '*.log')))[-1]).read()
    resumed_at = int(log.split('resumed epoch: ')[1].split('iter: ')[1]
                     .split()[0].strip(','))
    assert 3 <= resumed_at < 40


def test_paper_config_without_imagenet_weights_names_the_scratch_config(
        tmp_path, monkeypatch):
    import oeem_mmseg.apis.config as config_module
    warnings = []
    monkeypatch.setattr(config_module, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    paper = osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas.py')
    scratch = osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas_scratch.py')
    cfg = load_config(paper, str(tmp_path / 'w'), {
        'model.backbone.init_cfg.checkpoint': str(tmp_path / 'none.pth')})
    with pytest.raises(OEEMInputError,
                       match='backbone weights .* not found .ImageNet weights'
                       f'.*{re.escape(scratch)}'):
        configure_train(cfg)
    cfg = load_config(paper, str(tmp_path / 'w'),
                      {'model.backbone.init_cfg': None})
    configure_train(cfg)
    assert len(warnings) == 1 and 'frozen BN' in warnings[0]
    assert scratch in warnings[0]
    # the from-scratch and quick configs train BN and start from random
    # weights without a word
    for name in ('cls_r38_glas_scratch.py', 'cls_r38_glas_quick.py'):
        cfg = load_config(osp.join(REPO, 'configs', 'oeem', name),
                          str(tmp_path / 'w'))
        configure_train(cfg)
        assert cfg.model.backbone.norm_cfg.requires_grad
        assert not cfg.model.backbone.frozen_stem
    assert len(warnings) == 1


@pytest.mark.parametrize('name', ['pspnet_r38_glas_oeem_quick.py',
                                  'pspnet_r38_glas_baseline_quick.py',
                                  'pspnet_r38_glas_oeem_scratch.py'])
def test_segmentors_without_imagenet_weights_normalise_staining(name,
                                                                tmp_path):
    cfg = load_config(osp.join(REPO, 'configs', 'oeem', name),
                      str(tmp_path / 'w'))
    assert cfg.model.data_preprocessor.type == 'StainNormSegDataPreProcessor'
    assert cfg.model.backbone.init_cfg is None
    configure_train(cfg)
    # the paper's configs keep plain inputs
    cfg = load_config(osp.join(REPO, 'configs', 'oeem',
                               'pspnet_r38_glas_oeem.py'), str(tmp_path / 'w'))
    assert cfg.model.data_preprocessor.type == 'SegDataPreProcessor'


def test_missing_backbone_weights_are_refused_before_anything_is_written(
        tmp_path):
    # a config without a from-scratch sibling
    cfg = load_config(TINY_SEG, str(tmp_path / 'w'))
    cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                       checkpoint=str(tmp_path / 'x.pth'))
    with pytest.raises(OEEMInputError,
                       match=r'x\.pth: backbone weights of .* not found '
                       r'\(set model\.backbone\.init_cfg\.checkpoint'):
        configure_train(cfg)
    assert not osp.exists(str(tmp_path / 'w'))
