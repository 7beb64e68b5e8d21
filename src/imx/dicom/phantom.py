"""Cheap synthetic cross-sections for ``imx.dicom.synth``: numpy only, a few ms per slice.

CT: stored values are HU + 1024 (Rescale Intercept -1024, slope 1; PS3.3 C.8.2.1.1.6);
12 bits stored in 16 allocated. MR: arbitrary T1-like intensities, also 12 bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["phantom_slice"]


def phantom_slice(
    rows: int, columns: int, z: float, modality: str, rng: np.random.Generator
) -> np.ndarray:
    """A plausible body cross-section: ellipse body, organs, bone ring, noise (HU-like for CT)."""
    y, x = np.ogrid[-1 : 1 : rows * 1j, -1 : 1 : columns * 1j]
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 <= 1
    if modality == "CT":
        img = np.full((rows, columns), -1000.0)
        img[body] = 40  # soft tissue
        lung_r = 0.25 + 0.05 * np.sin(z)
        img[((x - 0.35) / lung_r) ** 2 + (y / 0.4) ** 2 <= 1] = -800
        img[((x + 0.35) / lung_r) ** 2 + (y / 0.4) ** 2 <= 1] = -800
        liver_r = max(0.0, 0.3 * np.cos(z / 3))  # grows and shrinks along the stack
        if liver_r > 0.02:
            img[((x + 0.3) / liver_r) ** 2 + ((y + 0.05) / (0.8 * liver_r)) ** 2 <= 1] = 60
        img[((x - 0.15) / 0.06) ** 2 + ((y - 0.3) / 0.08) ** 2 <= 1] = 30  # kidney
        img[((x + 0.15) / 0.06) ** 2 + ((y - 0.3) / 0.08) ** 2 <= 1] = 30  # kidney
        img[(x**2 + (y - 0.2) ** 2) <= 0.004] = 200  # aorta with contrast
        ring = ((x / 0.8) ** 2 + (y / 0.6) ** 2 <= 1) & ((x / 0.72) ** 2 + (y / 0.53) ** 2 > 1)
        img[ring] = 700
        img[(x**2 + (y - 0.45) ** 2) <= 0.01] = 1000  # spine
        img += rng.normal(0, 12, img.shape)
        return (img + 1024).clip(0, 4095).astype(np.uint16)  # stored = HU + 1024
    img = np.zeros((rows, columns))
    img[body] = 400
    img[(x / 0.5) ** 2 + (y / 0.4) ** 2 <= 1] = 900 + 100 * np.cos(z)
    img[((x - 0.2) / 0.12) ** 2 + (y / (0.1 + 0.05 * np.sin(z))) ** 2 <= 1] = 1500  # lesion-ish
    img[((x + 0.2) / 0.12) ** 2 + (y / 0.1) ** 2 <= 1] = 250  # fluid-dark on T1
    img += np.abs(rng.normal(0, 15, img.shape))
    return img.clip(0, 4095).astype(np.uint16)
