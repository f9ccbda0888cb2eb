"""Overlay pictures: colours blended into RGB images."""
from typing import Sequence

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
    an RGB image (H, W, 3) uint8."""
    return blend(image, np.asarray(palette, np.uint8)[labels], alpha)


def heat_overlay(image: np.ndarray, values: np.ndarray,
                 alpha: float = 0.5) -> np.ndarray:
    """Values in [0, 1] (H, W) as a JET heat map blended into an RGB
    image."""
    heat = cv2.applyColorMap(
        np.round(np.clip(values, 0, 1) * 255).astype(np.uint8),
        cv2.COLORMAP_JET)
    return blend(image, np.ascontiguousarray(heat[..., ::-1]), alpha)
