# LUAD-HistoSeg (Han et al., MedIA 2022) as it is distributed, under
# data_root: 224x224 patches at 10x, training/NAME-[a b c d].png (patch
# labels in the name, class order TE, NEC, LYM, TAS), val/img + val/mask and
# test/img + test/mask (masks: class index per pixel, 4 = white background,
# left out). The palette is the one of the released masks.
data_root = 'data/luad_histoseg'
luad_metainfo = dict(
    classes=('TE', 'NEC', 'LYM', 'TAS'),
    palette=[[205, 51, 51], [0, 255, 0], [65, 105, 225], [255, 165, 0]])
luad_ignore_values = [4]
