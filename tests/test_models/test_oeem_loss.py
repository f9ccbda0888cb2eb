"""OEEMLoss: the reference test vector (docs/faithfulness.md, "OEEM loss
(reference semantics)"), every weight type against a plain NumPy loop, edge
cases, autocast, and use inside an mmseg decode head."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from oeem_mmseg.models.losses.oeem_loss import WEIGHT_TYPES, OEEMLoss


REFERENCE_LOGITS = [
    [[[0.126, -0.132, 0.64], [0.105, -0.536, 0.362], [1.304, 0.947, -0.704]],
     [[-1.265, -0.623, 0.041], [-2.325, -0.219, -1.246],
      [-0.732, -0.544, -0.316]]],
    [[[0.412, 1.043, -0.129], [1.366, -0.665, 0.352], [0.903, 0.094, -0.743]],
     [[-0.922, -0.458, 0.22], [-1.01, -0.209, -0.159], [0.541, 0.215, 0.355]]],
]
REFERENCE_LABELS = [[[0, 1, 1], [0, 255, 1], [1, 1, 0]],
                    [[1, 1, 1], [1, 255, 1], [1, 1, 1]]]


def reference_weights(logits: np.ndarray,
                      labels: np.ndarray,
                      weight_type: str,
                      ignore_index: int = 255):
    """Per-pixel CE and OEEM weights by a straightforward loop (float64)."""
    num, channels, height, width = logits.shape
    pixels = height * width
    ce = np.zeros((num, height, width))
    weights = np.ones((num, height, width))
    for n in range(num):
        for y in range(height):
            for x in range(width):
                if labels[n, y, x] != ignore_index:
                    scores = logits[n, :, y, x]
                    log_norm = math.log(sum(math.exp(s) for s in scores))
                    ce[n, y, x] = log_norm - scores[labels[n, y, x]]
        classes = {int(v) for v in labels[n].ravel() if v != ignore_index}
        if len(classes) <= 1:
            continue
        exp_neg = np.exp(-ce[n])
        l_norm = exp_neg / exp_neg.sum() * pixels
        for y in range(height):
            for x in range(width):
                probs = np.exp(logits[n, :, y, x])
                probs = probs / probs.sum()
                weights[n, y, x] = {
                    'l_norm': l_norm[y, x],
                    'c_max': probs.max(),
                    'c_diff': probs.max() - probs.min(),
                    'lc_mix': l_norm[y, x] * probs.max(),
                }[weight_type]
    return ce, weights


def reference_loss(logits,
                   labels,
                   weight_type,
                   avg_non_ignore=False,
                   ignore_index=255):
    ce, weights = reference_weights(logits, labels, weight_type, ignore_index)
    total = (ce * weights).sum()
    if avg_non_ignore:
        return total / max(int((labels != ignore_index).sum()), 1)
    return total / labels.size


def random_case(seed=0, num=3, channels=3, size=(5, 6)):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(num, channels, *size, generator=gen) * 2
    labels = torch.randint(0, channels, (num, *size), generator=gen)
    labels[0, 0, :3] = 255
    labels[1] = 2
    labels[1, 1, 1] = 255
    return logits, labels


def test_reference_test_vector():
    logits = torch.tensor(REFERENCE_LOGITS)
    labels = torch.tensor(REFERENCE_LABELS)
    oeem = OEEMLoss()(logits, labels, ignore_index=255)
    ce = F.cross_entropy(
        logits.double(), labels, ignore_index=255,
        reduction='sum') / labels.numel()
    assert oeem.item() == pytest.approx(0.7597261792, abs=1e-6)
    assert ce.item() == pytest.approx(0.9957485573, abs=1e-6)
    # image 2 holds one class only: its contribution is plain CE
    assert OEEMLoss()(logits[1:], labels[1:]).item() == pytest.approx(
        (F.cross_entropy(
            logits[1:], labels[1:], ignore_index=255, reduction='sum') /
         9).item(),
        abs=1e-6)


@pytest.mark.parametrize('weight_type', WEIGHT_TYPES)
def test_weight_types_match_numpy_loop(weight_type):
    logits, labels = random_case()
    expected = reference_loss(logits.double().numpy(), labels.numpy(),
                              weight_type)
    loss = OEEMLoss(weight_type=weight_type, loss_weight=0.4)(logits, labels)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(0.4 * expected, rel=1e-5)


def test_weight_types_differ():
    logits, labels = random_case()
    values = {
        t: OEEMLoss(weight_type=t)(logits, labels).item()
        for t in WEIGHT_TYPES
    }
    assert len({round(v, 6) for v in values.values()}) == len(WEIGHT_TYPES)


def test_invalid_weight_type():
    with pytest.raises(ValueError, match='l_norm'):
        OEEMLoss(weight_type='focal')


@pytest.mark.parametrize('weight_type', WEIGHT_TYPES)
def test_single_class_images_are_plain_ce(weight_type):
    logits = torch.randn(2, 2, 4, 4)
    labels = torch.ones(2, 4, 4, dtype=torch.long)
    labels[0, 0] = 255
    labels[1] = 0
    ce = F.cross_entropy(
        logits, labels, ignore_index=255, reduction='sum') / labels.numel()
    loss = OEEMLoss(weight_type=weight_type)(logits, labels)
    assert loss.item() == pytest.approx(ce.item(), rel=1e-6)


def test_all_ignored_image_gives_zero_and_finite_grads():
    logits = torch.randn(2, 2, 4, 4, requires_grad=True)
    labels = torch.full((2, 4, 4), 255)
    for weight_type in WEIGHT_TYPES:
        logits.grad = None
        loss = OEEMLoss(
            weight_type=weight_type, avg_non_ignore=True)(logits, labels)
        loss.backward()
        assert loss.item() == 0
        assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize('weight_type', WEIGHT_TYPES)
def test_extreme_logits_are_finite(weight_type):
    logits = (torch.randn(2, 2, 6, 6) * 1e4).requires_grad_()
    labels = torch.randint(0, 2, (2, 6, 6))
    labels[0, 0] = 255
    labels[1] = 1  # a single-class image: plain CE, large and positive
    loss = OEEMLoss(weight_type=weight_type)(logits, labels)
    loss.backward()
    assert torch.isfinite(loss)
    assert loss.item() > 100
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[1].abs().sum() > 0


@pytest.mark.parametrize('weight_type', WEIGHT_TYPES)
def test_weights_carry_no_gradient(weight_type):
    logits, labels = random_case(seed=1)
    logits.requires_grad_()
    OEEMLoss(weight_type=weight_type)(logits, labels).backward()
    _, weights = reference_weights(logits.detach().double().numpy(),
                                   labels.numpy(), weight_type)
    ce_logits = logits.detach().clone().requires_grad_()
    ce = F.cross_entropy(ce_logits, labels, ignore_index=255, reduction='none')
    (ce * torch.from_numpy(weights).float()).sum().div(
        labels.numel()).backward()
    torch.testing.assert_close(
        logits.grad, ce_logits.grad, rtol=1e-4, atol=1e-7)


def test_avg_non_ignore():
    logits, labels = random_case(seed=2)
    expected = reference_loss(
        logits.double().numpy(), labels.numpy(), 'l_norm', avg_non_ignore=True)
    loss = OEEMLoss(avg_non_ignore=True)(logits, labels)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert loss.item() > OEEMLoss()(logits, labels).item()


def test_pixel_weight_multiplies_the_loss():
    logits, labels = random_case(seed=3)
    pixel_weight = torch.rand(labels.shape)
    ce, weights = reference_weights(logits.double().numpy(), labels.numpy(),
                                    'l_norm')
    expected = (ce * weights * pixel_weight.double().numpy()).sum() / \
        labels.numel()
    loss = OEEMLoss()(logits, labels, weight=pixel_weight)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_logits_are_resized_to_the_label():
    logits, labels = random_case(seed=4, size=(4, 4))
    labels = labels.repeat_interleave(2, 1).repeat_interleave(2, 2)
    resized = F.interpolate(
        logits, size=(8, 8), mode='bilinear', align_corners=False)
    assert OEEMLoss()(logits, labels).item() == pytest.approx(
        OEEMLoss()(resized, labels).item(), rel=1e-6)


def test_bf16_autocast_gives_float32_close_to_float():
    logits, labels = random_case(seed=5, size=(16, 16))
    logits = logits.bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = OEEMLoss()(logits, labels)
    reference = OEEMLoss()(logits.float(), labels)
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-3)


def test_builds_from_registry():
    from mmseg.registry import MODELS
    loss = MODELS.build(
        dict(
            type='OEEMLoss',
            weight_type='lc_mix',
            loss_weight=0.4,
            loss_name='loss_aux'))
    assert isinstance(loss, OEEMLoss)
    assert loss.weight_type == 'lc_mix'
    assert loss.loss_weight == 0.4
    assert loss.loss_name == 'loss_aux'


def test_inside_fcn_head_loss_by_feat():
    from mmengine.structures import PixelData
    from mmseg.models.decode_heads import FCNHead
    from mmseg.structures import SegDataSample

    head = FCNHead(
        in_channels=4,
        channels=4,
        num_convs=1,
        num_classes=2,
        loss_decode=dict(type='OEEMLoss'))
    torch.manual_seed(0)
    seg_logits = torch.randn(2, 2, 4, 4)
    samples = []
    for index in range(2):
        label = torch.randint(0, 2, (1, 8, 8))
        label[0, 0] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=(8, 8)))
        samples.append(sample)
    losses = head.loss_by_feat(seg_logits, samples)
    labels = torch.cat([sample.gt_sem_seg.data for sample in samples])
    resized = F.interpolate(
        seg_logits, size=(8, 8), mode='bilinear', align_corners=False)
    assert set(losses) == {'loss_oeem', 'acc_seg'}
    assert losses['loss_oeem'].item() == pytest.approx(
        OEEMLoss()(resized, labels).item(), rel=1e-6)
