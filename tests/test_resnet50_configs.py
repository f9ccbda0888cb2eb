"""The ResNet-50-D8 configs (for users without res38d.pth), built from
random initialisation: output stride 8, the CAM head on the last three
stages, the segmentor's logits at input size."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from oeem_mmseg.apis.config import adapt_to_device
from oeem_mmseg.apis.pseudo_masks import build_classifier
from oeem_mmseg.cam import class_activation_maps

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                   'oeem')


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
