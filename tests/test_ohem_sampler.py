"""The OHEM ablation mines: on a real batch of the training pipeline, the
sampler of both heads keeps a minority of the pixels, where the setting it
replaced (min_kept=100000 with 256x256 tiles) kept them all."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS, TASK_UTILS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SUBSET = osp.join(REPO, '..', 'shared', 'data', 'glas_subset')
OHEM_CONFIG = osp.join(REPO, 'configs', 'oeem', 'pspnet_r38_glas_ohem.py')


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
    sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))
    from glas import prepare_glas
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
