"""Pseudo-masks from CAMs: the label filter, the tie vote and the majority
vote on hand-made cases with a stub classifier whose CAM is a known
function of the image."""
import numpy as np
import torch

from oeem_mmseg.cam import MultiScaleCAM, majority_vote
from tests.helpers import PAPER_CAM, glas_pseudo_mask, red_image, stub_model


def test_label_filter_and_tie_vote_go_to_non_gland():
    # two patches: A = cols 0..111, B = cols 56..167; gland only in cols
    # 140..167 -> A is [1, 0], B is [1, 1]; the CAM says gland everywhere.
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    image = red_image(112, 168, 255)
    mask = np.zeros((112, 168), np.uint8)
    mask[:, 140:] = 1
    result = glas_pseudo_mask(generator, image, mask)
    expected = np.zeros((112, 168), np.uint8)
    expected[:, 112:] = 1  # B alone; A alone -> 0; A vs B tie -> 0
    np.testing.assert_array_equal(result.pseudo, expected)
    np.testing.assert_array_equal(result.cam, np.ones((112, 168)))


def test_gland_only_patches_are_all_gland():
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    image = red_image(112, 168, 0)  # the CAM says non-gland everywhere
    result = glas_pseudo_mask(generator, image, np.ones((112, 168),
                                                         np.uint8))
    np.testing.assert_array_equal(result.pseudo, np.ones((112, 168)))
    np.testing.assert_array_equal(result.cam, np.zeros((112, 168)))


def test_mixed_patches_follow_the_cam():
    # every patch is [1, 1] (gland in rows 0..19); red left of col 112 only
    red = np.zeros((112, 224), np.uint8)
    red[:, :112] = 255
    mask = np.zeros((112, 224), np.uint8)
    mask[:20] = 1
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    result = glas_pseudo_mask(generator, red_image(112, 224, red), mask,
                               with_probs=True)
    assert (result.pseudo[:, :96] == 1).all()
    assert (result.pseudo[:, 112:] == 0).all()
    np.testing.assert_array_equal(result.pseudo, result.cam)
    assert (result.probs[1][:, :48] > 0.99).all()
    assert (result.probs[1][:, 176:] < 0.01).all()


def test_majority_vote_rounds_half_down():
    boxes = [(0, 0, 1, 2), (0, 1, 1, 3), (0, 1, 1, 3)]
    hard = np.array([[[1, 1]], [[0, 1]], [[1, 1]]], np.uint8)
    # col 0: 1/1; col 1: 2/3 -> 1; col 2: 2/2
    np.testing.assert_array_equal(majority_vote(torch.as_tensor(hard), boxes, (1, 3), 2),
                                  [[1, 1, 1]])
    hard = np.array([[[1, 1]], [[0, 0]], [[0, 1]]], np.uint8)
    # col 0: 1/1; col 1: 1/3 -> 0; col 2: 1/2 tie -> 0
    np.testing.assert_array_equal(majority_vote(torch.as_tensor(hard), boxes, (1, 3), 2),
                                  [[1, 0, 0]])
