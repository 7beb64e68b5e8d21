"""Rendered images for WADO-RS ``/rendered`` (PS3.18 8.3.5, 9.5): JPEG (default) or PNG.

Modality LUT (rescale slope/intercept) then VOI window (``window`` query parameter, else
the file's Window Center/Width, else the frame's range), to 8 bits (PS3.3 C.11.2).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array

from imx.errors import MalformedMessageError, NotFoundError, UnsupportedError

__all__ = ["RenderOptions", "parse_window", "render_frame"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderOptions:
    media_type: str = "image/jpeg"
    window: tuple[float, float] | None = None  # center, width
    quality: int = 90
    viewport: tuple[int, int] | None = None  # width, height (fit inside)


def parse_window(value: str) -> tuple[float, float]:
    """``window=center,width[,function]`` (PS3.18 8.3.5.1.4); only LINEAR is supported."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (2, 3):
        raise MalformedMessageError("window must be center,width[,function]")
    if len(parts) == 3 and parts[2].upper() not in ("LINEAR", ""):
        raise UnsupportedError("only the LINEAR VOI LUT function is supported")
    try:
        center, width = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise MalformedMessageError("window center and width must be numbers") from exc
    if width <= 0:
        raise MalformedMessageError("window width must be positive")
    return center, width


def _first(value: object) -> float | None:
    if value is None or value == "":
        return None
    # A multi-valued DS (pydicom MultiValue) carries one window per value: use the first.
    if hasattr(value, "__iter__") and not isinstance(value, str):
        value = next(iter(value))
    return float(value)  # type: ignore[arg-type]


def render_frame(ds: Dataset, frame: int, options: RenderOptions, *,
                 source: Path | None = None) -> bytes:
    """Render frame ``frame`` (1-based) of ``ds`` to JPEG or PNG bytes.

    Only that frame is decoded; with ``source`` (the stored file) only its bytes are read.
    """
    if "PixelData" not in ds:
        raise NotFoundError("instance has no pixel data")
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if frame < 1 or frame > count:
        raise NotFoundError("frame number out of range")
    try:
        pixels = pixel_array(source or ds, index=frame - 1)
    except Exception as exc:
        raise UnsupportedError("cannot decode this transfer syntax for rendering") from exc
    if ds.get("PhotometricInterpretation", "MONOCHROME2").startswith("MONOCHROME"):
        image = _grey(ds, pixels.astype(np.float64), options)
    else:
        image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    if options.viewport is not None:
        image.thumbnail(options.viewport)
    out = io.BytesIO()
    if options.media_type == "image/png":
        image.save(out, format="PNG")
    elif options.media_type == "image/jpeg":
        image.save(out, format="JPEG", quality=options.quality)
    else:
        raise UnsupportedError("rendered media type must be image/jpeg or image/png")
    return out.getvalue()


def _grey(ds: Dataset, values: np.ndarray, options: RenderOptions) -> Image.Image:
    slope = _first(ds.get("RescaleSlope")) or 1.0
    intercept = _first(ds.get("RescaleIntercept")) or 0.0
    values = values * slope + intercept
    window = options.window
    if window is None:
        center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
        if center is not None and width:
            window = (center, width)
    if window is None:
        lo, hi = float(values.min()), float(values.max())
    else:
        # PS3.3 C.11.2.1.2.1 linear function, simplified to the window's edges
        lo, hi = window[0] - window[1] / 2, window[0] + window[1] / 2
    scaled = np.clip((values - lo) / max(hi - lo, 1e-9), 0, 1) * 255
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255 - scaled
    return Image.fromarray(scaled.astype(np.uint8), mode="L")
