"""The repository's configs (configs/oeem/): every config loads, ablations
state only their difference, one source per value, the ResNet-50-D8
configs, staining of the from-scratch segmentors, the OHEM sampler on a
real batch; and every config of configs/ and tests/configs/ whose backbone
starts from random weights trains all of it (no BN layer in eval mode, no
frozen parameter, stem included): the paper's frozen BN and stem suit
ImageNet weights only."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope, init_default_scope
from mmseg.registry import DATASETS, MODELS, TASK_UTILS

from oeem_mmseg.apis import (adapt_to_device, configure_train, load_config,
                             use_aug_test)
from oeem_mmseg.apis.config import (build_backbone, frozen_parts,
                                    has_pretrained_weights)
from oeem_mmseg.apis.pseudo_masks import build_classifier
from oeem_mmseg.cam import class_activation_maps
from tests.helpers import REPO, load_tool

CONFIGS = osp.join(REPO, 'configs', 'oeem')
SUBSET = osp.join(REPO, '..', 'shared', 'data', 'glas_subset')
OHEM_CONFIG = osp.join(REPO, 'configs', 'oeem', 'pspnet_r38_glas_ohem.py')
# every config: the repository's and the tests'
ALL_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True) +
    glob.glob(osp.join(REPO, 'tests', 'configs', '*.py')))


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


def test_paper_test_protocol_has_one_source():
    cfg = load_config(osp.join(REPO, 'configs/oeem/pspnet_r38_glas_oeem.py'))
    scales = [0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]
    resizes = cfg.tta_pipeline[-1].transforms[0]
    assert [t.scale_factor for t in resizes] == scales
    use_aug_test(cfg)
    assert cfg.model.test_cfg == dict(
        mode='tile_aug', tile_size=256, tile_stride=192, scales=scales,
        flip=True, crop_size=(320, 320), stride=(256, 256), batch_size=16)


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


def _config(name: str) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.model.backbone.init_cfg = None
    cfg.launcher = 'none'
    return adapt_to_device(cfg)


@torch.no_grad()
def test_cls_r50_cam_has_stride_8():
    model = build_classifier(_config('cls_r50_glas.py')).eval()
    inputs = torch.randn(2, 3, 224, 224)
    feats = model.extract_feat(inputs)
    assert [tuple(f.shape[1:]) for f in feats] == [(512, 28, 28),
                                                   (1024, 28, 28),
                                                   (2048, 28, 28)]
    cams = class_activation_maps(model, inputs)
    assert cams.shape == (2, 2, 28, 28)
    # the classification logit is the spatial mean of the CAM
    torch.testing.assert_close(model.head(feats), cams.mean(dim=(2, 3)),
                               atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_pspnet_r50_d8_segments_at_input_size():
    from mmseg.registry import MODELS
    cfg = _config('pspnet_r50_glas_oeem.py')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
    inputs = torch.randn(1, 3, 256, 256)
    feats = model.extract_feat(inputs)
    assert [tuple(f.shape[1:]) for f in feats] == [(256, 64, 64),
                                                   (512, 32, 32),
                                                   (1024, 32, 32),
                                                   (2048, 32, 32)]
    logits = model.encode_decode(inputs, [dict(img_shape=(256, 256))])
    assert logits.shape == (1, 2, 256, 256)
    assert model.decode_head.loss_decode.weight_type == 'l_norm'


class _Head:
    """What the sampler reads of its decode head."""
    ignore_index = 255


def _real_label_batch(data_root: str, cfg: Config) -> torch.Tensor:
    """(N, 1, 256, 256) labels of one training batch as the segmentor gets
    them (padded with 255 by its data preprocessor), ground-truth masks in
    place of the pseudo-masks."""
    loader = cfg.train_dataloader
    dataset_cfg = loader.dataset.copy()
    dataset_cfg.update(
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='masks'))
    init_default_scope('mmseg')
    dataset = DATASETS.build(dataset_cfg)
    indices = np.random.default_rng(0).choice(
        len(dataset), loader.batch_size, replace=False)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    batch = preprocessor(
        pseudo_collate([dataset[int(i)] for i in indices]), training=True)
    return torch.stack(
        [sample.gt_sem_seg.data for sample in batch['data_samples']])


def _confident_logits(labels: torch.Tensor) -> torch.Tensor:
    """Logits of a segmentor that is sure inside regions and unsure at their
    borders: the one-hot label (x 4) blurred over 15 px, plus a little noise
    (a network's logits are never exactly equal)."""
    one_hot = F.one_hot(labels[:, 0].clamp(max=1).long(), 2).permute(
        0, 3, 1, 2).float()
    noise = 0.05 * torch.randn(one_hot.shape,
                               generator=torch.Generator().manual_seed(0))
    return 4 * (2 * F.avg_pool2d(one_hot, 15, 1, 7) - 1) + noise


@pytest.mark.skipif(not osp.isdir(SUBSET), reason='GlaS subset not present')
def test_ohem_keeps_a_minority_of_a_real_batch(tmp_path):
    prepare_glas = load_tool('dataset_converters/glas.py').prepare_glas
    data_root = str(tmp_path / 'glas')
    prepare_glas(SUBSET, data_root)
    cfg = Config.fromfile(OHEM_CONFIG)
    labels = _real_label_batch(data_root, cfg)
    assert labels.shape == (8, 1, 256, 256)
    logits = _confident_logits(labels)
    valid = (labels[:, 0] != 255).sum().item()

    def kept_share(sampler_cfg: dict) -> float:
        sampler = TASK_UTILS.build(dict(sampler_cfg, context=_Head()))
        return sampler.sample(logits, labels).sum().item() / valid

    for head in ('decode_head', 'auxiliary_head'):
        share = kept_share(cfg.model[head].sampler)
        # min_kept 13000 of 65536 pixels per tile: about a fifth is kept
        assert 0.1 < share < 0.35, (head, share)
    replaced = dict(cfg.model.decode_head.sampler, min_kept=100000)
    assert kept_share(replaced) > 0.99


def model_configs():
    """(path, config) of every config that builds a model with a
    backbone."""
    for path in ALL_CONFIGS:
        cfg = Config.fromfile(path)
        if (cfg.get('model') or {}).get('backbone'):
            yield osp.relpath(path, REPO), cfg


def test_configs_without_pretrained_weights_train_their_whole_backbone():
    from_scratch = []
    for name, cfg in model_configs():
        if has_pretrained_weights(cfg.model.backbone):
            continue
        from_scratch.append(name)
        assert frozen_parts(build_backbone(cfg)) == ([], []), name
    # the quick, scratch and test configs among them
    assert {'configs/oeem/cls_r38_glas_quick.py',
            'configs/oeem/cls_r38_luad_histoseg_quick.py',
            'configs/oeem/pspnet_r38_glas_oeem_scratch.py',
            'tests/configs/cls_r38_tiny.py'} <= set(from_scratch)


@pytest.mark.parametrize('name', ['cls_r38_glas.py', 'cls_r50_glas.py'])
def test_the_pretrained_classifiers_keep_the_papers_frozen_bn(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'oeem', name))
    assert has_pretrained_weights(cfg.model.backbone)
    bn_eval, frozen = frozen_parts(build_backbone(cfg))
    assert bn_eval and frozen
