"""Overlay pictures: colours blended into RGB images."""
from typing import Optional, Sequence

import cv2
import numpy as np


def blend(image: np.ndarray, colours: np.ndarray,
          alpha: float = 0.5) -> np.ndarray:
    """``(1 - alpha) * image + alpha * colours``, both (H, W, 3) uint8 RGB."""
    return cv2.addWeighted(image, 1 - alpha, colours, alpha, 0)


def label_overlay(image: np.ndarray, labels: np.ndarray,
                  palette: Sequence[Sequence[int]],
                  alpha: float = 0.5) -> np.ndarray:
    """The palette colour of each pixel's class (labels (H, W)) blended into
    an RGB image (H, W, 3) uint8; pixels of no class (ignored, 255) are left
    as they are."""
    palette = np.asarray(palette, np.uint8)
    inside = labels < len(palette)
    colours = image.copy()
    colours[inside] = palette[labels[inside]]
    return blend(image, colours, alpha)


def heat_overlay(image: np.ndarray, values: np.ndarray,
                 alpha: float = 0.5) -> np.ndarray:
    """Values in [0, 1] (H, W) as a JET heat map blended into an RGB
    image."""
    heat = cv2.applyColorMap(
        np.round(np.clip(values, 0, 1) * 255).astype(np.uint8),
        cv2.COLORMAP_JET)
    return blend(image, np.ascontiguousarray(heat[..., ::-1]), alpha)


def cam_strip(image: np.ndarray, probs: np.ndarray, pseudo: np.ndarray,
              gt: Optional[np.ndarray],
              palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, 4W, 3) uint8 RGB: image | CAM | pseudo-mask overlay |
    ground-truth overlay; (H, 3W, 3) without ground truth.

    The CAM panel shows the class probabilities ``probs`` (C, H, W): with two
    classes the probability of class 1 as a JET heat map, with more the
    colour of the most probable class.
    """
    if len(probs) == 2:
        cam = heat_overlay(image, probs[1])
    else:
        cam = label_overlay(image, probs.argmax(0), palette)
    panels = [image, cam, label_overlay(image, pseudo, palette)]
    if gt is not None:
        panels.append(label_overlay(image, gt, palette))
    return np.concatenate(panels, axis=1)
