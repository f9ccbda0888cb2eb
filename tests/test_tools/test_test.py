"""tools/test.py --tta: MMSeg's test-time augmentation keeps the image's
meta keys, so GlaSMetric counts the annotated glands."""
import os.path as osp
import sys

import cv2
import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_tiny.py')
sys.path.insert(0, osp.join(REPO, 'tools'))
import test as test_tool  # noqa: E402


def test_tta_scores_touching_glands_as_separate_objects(
        glas_prepared, tiny_checkpoint, tmp_path):
    # one test image with two touching glands: one connected component of
    # the mask, two annotated instances
    instances = np.zeros((120, 150), np.uint8)
    instances[30:90, 20:75] = 1
    instances[30:90, 75:130] = 2
    cv2.imwrite(osp.join(glas_prepared, 'instances', 'testA_1.png'),
                instances)
    cv2.imwrite(osp.join(glas_prepared, 'masks', 'testA_1.png'),
                (instances > 0).astype(np.uint8))
    with open(osp.join(glas_prepared, 'splits', 'test.txt'), 'w') as f:
        f.write('testA_1\n')
    # a segmentor that marks everything gland: one object over both glands
    checkpoint = torch.load(tiny_checkpoint, weights_only=False)
    checkpoint['state_dict']['decode_head.conv_seg.weight'].zero_()
    checkpoint['state_dict']['decode_head.conv_seg.bias'][:] = torch.tensor(
        [0.0, 10.0])
    path = str(tmp_path / 'all_gland.pth')
    torch.save(checkpoint, path)
    options = ['--work-dir', str(tmp_path / 'work'), '--cfg-options',
               f'test_dataloader.dataset.data_root={glas_prepared}']
    # the object covers one gland (true positive) and misses the other
    # (false negative): F1 2/3; counted as one gland it would be 1
    for extra in ([], ['--tta']):
        metrics = test_tool.main([TINY_SEG, path] + options + extra)
        assert metrics['objF1'] == 66.67, extra
