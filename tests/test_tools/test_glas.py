"""tools/dataset_converters/glas.py: every image/mask size pair is checked
before any image is converted (issue 17, item 9)."""
import os

import cv2

from tests.test_reliability import assert_refused, prepare


def test_a_size_mismatch_is_found_before_converting(make_glas_source,
                                                    tmp_path, capsys):
    src = make_glas_source(tmp_path / 'src')
    last = os.path.join(src, 'testB_2_anno.bmp')
    cv2.imwrite(last, cv2.imread(last, cv2.IMREAD_UNCHANGED)[:-1])
    out = tmp_path / 'out'
    assert_refused(prepare, [src, str(out)], capsys, 'testB_2_anno.bmp: mask '
                   'size 150x119 differs from image', inputs=[src])
    assert not out.exists() or not any(
        files for _, _, files in os.walk(out))
