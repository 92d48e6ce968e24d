"""Small pre-drawn overlays (shapes, the prompt caption) and the one cheap way to blend them onto a frame.

Everything here is drawn once per video; per frame a sprite only costs an integer alpha blend over its
own bounding box, which is what keeps a 4k frame cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from localvendor.frames import Frame


class ShapeKind(StrEnum):
    DISC = "disc"
    RING = "ring"
    SQUARE = "square"


@dataclass(frozen=True)
class Sprite:
    """An RGBA patch kept premultiplied in uint16 so blending is two multiplies and a divide."""

    premultiplied: NDArray[np.uint16]  # (h, w, 3): colour * alpha
    inverse_alpha: NDArray[np.uint16]  # (h, w, 1): 255 - alpha

    @classmethod
    def from_rgba(cls, rgba: NDArray[np.uint8]) -> Sprite:
        alpha = rgba[:, :, 3:4].astype(np.uint16)
        premultiplied = rgba[:, :, :3].astype(np.uint16) * alpha
        return cls(premultiplied=premultiplied, inverse_alpha=np.uint16(255) - alpha)

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.inverse_alpha.shape[:2]
        return width, height

    def blend_onto(self, frame: Frame, left: int, top: int) -> None:
        """Alpha-blend onto ``frame`` with the sprite's top-left corner at (left, top), clipped to it."""
        frame_height, frame_width = frame.shape[:2]
        width, height = self.size
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + width, frame_width), min(top + height, frame_height)
        if x0 >= x1 or y0 >= y1:
            return
        sx, sy = x0 - left, y0 - top
        region = frame[y0:y1, x0:x1]
        inverse = self.inverse_alpha[sy : sy + (y1 - y0), sx : sx + (x1 - x0)]
        blended = region.astype(np.uint16)
        blended *= inverse
        blended += self.premultiplied[sy : sy + (y1 - y0), sx : sx + (x1 - x0)]
        # Exact rounding of (colour*a + under*(255-a)) / 255 for 16-bit values.
        blended += 128
        blended += blended >> 8
        blended >>= 8
        region[...] = blended


def shape_sprite(kind: ShapeKind, size: int, rgb: tuple[int, int, int], opacity: float) -> Sprite:
    """An anti-aliased shape of ``size`` pixels square, drawn from a signed distance so edges stay soft."""
    half = size / 2.0
    coords = np.arange(size, dtype=np.float32) + 0.5 - half
    dx, dy = np.abs(coords)[None, :], np.abs(coords)[:, None]
    radius = half - 1.0
    if kind is ShapeKind.SQUARE:
        corner = radius * 0.25
        qx, qy = np.maximum(dx - (radius - corner), 0.0), np.maximum(dy - (radius - corner), 0.0)
        distance = np.sqrt(qx * qx + qy * qy) - corner
    else:
        distance = np.sqrt(dx * dx + dy * dy) - radius
        if kind is ShapeKind.RING:
            distance = np.abs(distance + radius * 0.2) - radius * 0.2
    coverage = np.clip(0.5 - distance, 0.0, 1.0) * opacity
    rgba = np.empty((size, size, 4), dtype=np.uint8)
    rgba[:, :, :3] = rgb
    rgba[:, :, 3] = np.round(coverage * 255.0).astype(np.uint8)
    return Sprite.from_rgba(rgba)


def caption_sprite(lines: list[str], font_size: int, max_width: int) -> Sprite:
    """The caption: ``lines`` in white on a translucent dark box, each line ellipsised to ``max_width``."""
    font = ImageFont.load_default(size=font_size)
    fitted = [_ellipsise(line, font, max_width) for line in lines]
    padding = font_size // 2
    line_height = int(font_size * 1.3)
    text_width = max(int(font.getlength(line)) for line in fitted)
    box = Image.new("RGBA", (text_width + 2 * padding, line_height * len(fitted) + 2 * padding), (0, 0, 0, 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle((0, 0, box.width - 1, box.height - 1), radius=padding, fill=(8, 8, 12, 150))
    for number, line in enumerate(fitted):
        draw.text((padding, padding + number * line_height), line, font=font, fill=(255, 255, 255, 235))
    return Sprite.from_rgba(np.asarray(box, dtype=np.uint8))


def wrap_words(text: str, font_size: int, max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap measured with the caption font; the last line keeps the rest (ellipsised later)."""
    font = ImageFont.load_default(size=font_size)
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    current = ""
    for index, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > max_width:
            lines.append(current)
            if len(lines) == max_lines - 1:
                return [*lines, " ".join(words[index:])]
            current = word
        else:
            current = candidate
    return [*lines, current]


def _ellipsise(line: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int) -> str:
    if font.getlength(line) <= max_width:
        return line
    # Binary search for the longest prefix that fits with the ellipsis: trimming one character at a time
    # measured a 4000-character word 4000 times (over a minute per render).
    fits, too_long = 0, len(line)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if font.getlength(line[:middle] + "…") <= max_width:
            fits = middle
        else:
            too_long = middle
    return line[:fits].rstrip() + "…"
