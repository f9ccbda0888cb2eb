"""MultiLayerCAMHead: fusion, logits = spatial mean of the CAM, loss and
prediction through mmpretrain's ImageClassifier."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from oeem_mmseg.models.heads.multilayer_cam_head import MultiLayerCAMHead
from oeem_mmseg.utils.errors import OEEMInputError


def _feats(sizes=((8, 8), (8, 8), (4, 4)), channels=(4, 6, 5), n=2):
    torch.manual_seed(0)
    return tuple(
        torch.randn(n, c, *hw) for c, hw in zip(channels, sizes))


def test_head_registered_and_shapes():
    head = MODELS.build(
        dict(type='MultiLayerCAMHead', in_channels=(4, 6, 5), num_classes=3))
    assert isinstance(head, MultiLayerCAMHead)
    assert head.fc.in_features == 15 and head.fc.bias is not None
    feats = _feats()
    assert head(feats).shape == (2, 3)
    assert head.cam(feats).shape == (2, 3, 8, 8)
    assert head.fuse(feats).shape == (2, 15, 8, 8)


def test_fuse_resizes_only_differing_sizes():
    head = MultiLayerCAMHead(in_channels=(4, 6, 5), num_classes=2)
    feats = _feats()
    fused = head.fuse(feats)
    assert torch.equal(fused[:, :4], feats[0])
    assert torch.equal(fused[:, 4:10], feats[1])
    expected = F.interpolate(
        feats[2], size=(8, 8), mode='bilinear', align_corners=False)
    assert torch.equal(fused[:, 10:], expected)


@pytest.mark.parametrize('sizes', [((7, 9), (7, 9), (7, 9)),
                                   ((8, 8), (8, 8), (4, 4))])
def test_logits_are_the_spatial_mean_of_the_cam(sizes):
    head = MultiLayerCAMHead(in_channels=(4, 6, 5), num_classes=2)
    torch.nn.init.normal_(head.fc.bias)
    feats = _feats(sizes)
    logits = head(feats)
    cam = head.cam(feats)
    torch.testing.assert_close(cam.mean(dim=(2, 3)), logits, atol=1e-5,
                               rtol=0)
    # raw logits: no ReLU / normalization (negative values survive)
    assert (cam < 0).any() and (cam > 0).any()


def test_channel_mismatch_is_a_clear_error():
    head = MultiLayerCAMHead(in_channels=(4, 6, 5), num_classes=2)
    with pytest.raises(OEEMInputError, match=r'in_channels'):
        head(_feats(channels=(4, 6, 7)))
    with pytest.raises(OEEMInputError, match='in_channels'):
        MultiLayerCAMHead(in_channels=(), num_classes=2)


def _tiny_classifier():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(
            dict(
                type='ImageClassifier',
                data_preprocessor=dict(
                    type='ClsDataPreprocessor', num_classes=2,
                    to_onehot=True, mean=[128.] * 3, std=[64.] * 3),
                backbone=dict(type='ResNet38', width_mult=1 / 32,
                              b7_dilation=2, out_indices=(1, 2, 3)),
                head=dict(
                    type='MultiLayerCAMHead', in_channels=(16, 32, 128),
                    num_classes=2,
                    loss=dict(type='CrossEntropyLoss', use_sigmoid=True))))


def _batch(model):
    torch.manual_seed(1)
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    samples = [DataSample().set_gt_label(label)
               for label in ([0], [1], [0, 1])]
    return model.data_preprocessor(
        dict(inputs=list(images), data_samples=samples), True)


def test_loss_is_mean_bce_through_image_classifier():
    model = _tiny_classifier()
    model.init_weights()
    model.eval()  # no dropout: both forward passes agree
    data = _batch(model)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    logits = model.head(model.extract_feat(data['inputs']))
    target = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
    # mean over all N x C entries, like torch's BCEWithLogitsLoss()
    expected = F.binary_cross_entropy_with_logits(logits, target)
    torch.testing.assert_close(losses['loss'], expected)
    losses['loss'].backward()
    assert model.head.fc.weight.grad.abs().sum() > 0
    assert model.backbone.conv1a.weight.grad is not None


def test_predict_scores_are_sigmoid_of_logits():
    model = _tiny_classifier()
    model.init_weights()
    model.eval()
    data = _batch(model)
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
        logits = model.head(model.extract_feat(data['inputs']))
    scores = torch.stack([p.pred_score for p in preds])
    torch.testing.assert_close(scores, logits.sigmoid())
