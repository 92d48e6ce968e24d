"""A video's look as a pure function of its prompt: seeded colours, shapes, their paths and the caption.

The seed is the SHA-256 of the prompt, so the same prompt always gives byte-identical frames and any change
to it gives a different palette and different motion. ``Scene`` precomputes everything it can; a frame is
a background window plus a handful of small sprite blends.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from localvendor.backgrounds import RGB, Background, DriftingGradient, KenBurnsPan
from localvendor.frames import Frame
from localvendor.render_job import RenderJob
from localvendor.sprites import ShapeKind, Sprite, caption_sprite, shape_sprite, wrap_words

MODEL_LABEL = "local-preview"


def prompt_seed(prompt: str) -> bytes:
    return hashlib.sha256(prompt.encode("utf-8")).digest()


@dataclass(frozen=True)
class Orbit:
    """A Lissajous path: where a sprite's centre is at a given second, in pixels."""

    centre: tuple[float, float]
    amplitude: tuple[float, float]
    frequency_hz: tuple[float, float]
    phase: tuple[float, float]

    def position(self, seconds: float) -> tuple[float, float]:
        x, y = (
            centre + amplitude * math.sin(2 * math.pi * frequency * seconds + phase)
            for centre, amplitude, frequency, phase in zip(
                self.centre, self.amplitude, self.frequency_hz, self.phase, strict=True
            )
        )
        return x, y


@dataclass(frozen=True)
class MovingSprite:
    sprite: Sprite
    orbit: Orbit

    def draw_onto(self, frame: Frame, seconds: float) -> None:
        x, y = self.orbit.position(seconds)
        width, height = self.sprite.size
        self.sprite.blend_onto(frame, round(x - width / 2), round(y - height / 2))


class Scene:
    """Everything fixed about one video, ready to compose frame after frame into one reused buffer."""

    def __init__(self, job: RenderJob) -> None:
        self.job = job
        self.seed = prompt_seed(job.prompt)
        width, height = job.dimensions
        rng = np.random.default_rng(int.from_bytes(self.seed, "big"))
        base_hue = float(rng.random())
        self.background = self._background(job, rng, base_hue)
        on_image = job.reference_image is not None
        shape_count = int(rng.integers(3, 6))
        self.shapes = [
            self._moving_shape(rng, base_hue, (width, height), on_image) for _ in range(shape_count)
        ]
        self.caption = self._caption(job.prompt, (width, height))
        short_side = min(width, height)
        self.caption_position = (short_side // 30, height - self.caption.size[1] - short_side // 30)

    def draw(self, index: int, frame: Frame) -> None:
        """Draw frame ``index`` (0-based) into ``frame``, an RGB array of the job's height and width."""
        seconds = index / self.job.fps
        self.background.draw_into(frame, seconds)
        for shape in self.shapes:
            shape.draw_onto(frame, seconds)
        self.caption.blend_onto(frame, *self.caption_position)

    def frame(self, index: int) -> Frame:
        """Frame ``index`` as a new array (for tests and previews; the renderer draws in place)."""
        width, height = self.job.dimensions
        frame: Frame = np.empty((height, width, 3), dtype=np.uint8)
        self.draw(index, frame)
        return frame

    def _background(self, job: RenderJob, rng: np.random.Generator, base_hue: float) -> Background:
        width, height = job.dimensions
        if job.reference_image is not None:
            drift = (float(rng.uniform(-1.0, 1.0)), float(rng.uniform(-1.0, 1.0)))
            zoom_in = bool(rng.random() < 0.5)
            return KenBurnsPan(job.reference_image, (width, height), job.duration_seconds, zoom_in, drift)
        # An analogous palette: the base hue, a neighbour on one side and a darker one on the other.
        colours: tuple[RGB, RGB, RGB] = (
            _seeded_colour(rng, base_hue, (0.55, 0.8), (0.55, 0.85)),
            _seeded_colour(rng, base_hue + float(rng.uniform(0.15, 0.35)), (0.5, 0.8), (0.4, 0.75)),
            _seeded_colour(rng, base_hue - float(rng.uniform(0.1, 0.3)), (0.4, 0.7), (0.3, 0.6)),
        )
        # Speeds in pixels per second, scaled to the frame so every resolution shows the same motion.
        speed = min(width, height) * float(rng.uniform(0.08, 0.2))
        angle = float(rng.uniform(0.0, 2.0 * math.pi))
        return DriftingGradient((width, height), colours, (speed * math.cos(angle), speed * math.sin(angle)))

    @staticmethod
    def _moving_shape(
        rng: np.random.Generator, base_hue: float, size: tuple[int, int], on_image: bool
    ) -> MovingSprite:
        width, height = size
        short_side = min(width, height)
        kind = list(ShapeKind)[int(rng.integers(0, len(ShapeKind)))]
        diameter = int(short_side * float(rng.uniform(0.06, 0.12) if on_image else rng.uniform(0.08, 0.22)))
        hue = base_hue + 0.5 + float(rng.uniform(-0.12, 0.12))  # opposite the background, so shapes stand out
        rgb = _seeded_colour(rng, hue, (0.5, 0.9), (0.75, 1.0))
        opacity = float(rng.uniform(0.35, 0.5) if on_image else rng.uniform(0.75, 0.95))
        orbit = Orbit(
            centre=(width * float(rng.uniform(0.3, 0.7)), height * float(rng.uniform(0.3, 0.7))),
            amplitude=(width * float(rng.uniform(0.1, 0.3)), height * float(rng.uniform(0.1, 0.3))),
            frequency_hz=(float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.05, 0.3))),
            phase=(float(rng.uniform(0.0, 2 * math.pi)), float(rng.uniform(0.0, 2 * math.pi))),
        )
        return MovingSprite(shape_sprite(kind, max(diameter, 4), rgb, opacity), orbit)

    def _caption(self, prompt: str, size: tuple[int, int]) -> Sprite:
        width, height = size
        font_size = max(min(width, height) // 40, 10)
        max_width = int(width * 0.7)
        lines = wrap_words(prompt, font_size, max_width, max_lines=2)
        return caption_sprite([*lines, f"{MODEL_LABEL} · seed {self.seed.hex()[:8]}"], font_size, max_width)


def _seeded_colour(
    rng: np.random.Generator, hue: float, saturation: tuple[float, float], value: tuple[float, float]
) -> RGB:
    chosen_saturation, chosen_value = float(rng.uniform(*saturation)), float(rng.uniform(*value))
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, chosen_saturation, chosen_value)
    return round(red * 255), round(green * 255), round(blue * 255)
