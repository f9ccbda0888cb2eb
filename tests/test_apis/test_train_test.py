"""Training and testing the stain-normalising tiny segmentor: every input
(training crop, val/test image, TTA view) arrives with its image's stain
levels, so the preprocessor never measures a crop."""
import os.path as osp

from oeem_mmseg.apis import (configure_test, configure_train, load_config,
                             train_model)
from oeem_mmseg.apis import test_model as run_test
from oeem_mmseg.models import StainNormSegDataPreProcessor

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_STAIN_SEG = osp.join(REPO, 'tests', 'configs',
                          'pspnet_r38_stain_tiny.py')


def test_stain_normalising_segmentor_uses_image_levels_throughout(
        glas_prepared, tmp_path, monkeypatch):
    def refuse(self, image, rgb=False):
        raise AssertionError(f'input {tuple(image.shape)} without levels')

    monkeypatch.setattr(StainNormSegDataPreProcessor, 'measure', refuse)
    options = {f'{loader}.dataset.data_root': glas_prepared
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')}
    with open(osp.join(glas_prepared, 'splits', 'test.txt'), 'w') as f:
        f.write('testA_1\n')  # one image is enough
    work_dir = str(tmp_path / 'work')
    train_model(configure_train(load_config(TINY_STAIN_SEG, work_dir,
                                            options)))
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    for mode in (dict(aug_test=True), dict(tta=True)):
        cfg = configure_test(load_config(TINY_STAIN_SEG, work_dir, options),
                             checkpoint, **mode)
        assert 0 <= run_test(cfg)['mIoU'] <= 100
