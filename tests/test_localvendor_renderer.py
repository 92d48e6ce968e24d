"""The local vendor's renderer: real H.264 files, decoded back with PyAV."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from core.models import Aspect, Resolution
from localvendor.render_job import RenderCancelled, RenderJob
from localvendor.renderer import render_video, thumbnail_path_for
from localvendor.scene import Scene


def _render(tmp_path: Path, job: RenderJob, name: str = "out.mp4") -> Path:
    out = tmp_path / name
    render_video(job, out, lambda percent: None, lambda: False)
    return out


def _decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _frame_hashes(path: Path) -> list[str]:
    return [hashlib.sha256(frame.tobytes()).hexdigest() for frame in _decoded_frames(path)]


def _quadrant_image() -> bytes:
    """A picture with unmistakable layout: red, green, blue and white quadrants with a dark cross."""
    pixels = np.zeros((600, 800, 3), dtype=np.uint8)
    pixels[:300, :400] = (220, 30, 30)
    pixels[:300, 400:] = (30, 200, 40)
    pixels[300:, :400] = (30, 40, 220)
    pixels[300:, 400:] = (235, 235, 235)
    pixels[290:310, :] = 20
    pixels[:, 390:410] = 20
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _coarse(image: np.ndarray, size: tuple[int, int] = (16, 9)) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX), dtype=np.float64).ravel()


def test_720p_landscape_is_h264_with_exact_duration_and_frame_count(tmp_path: Path) -> None:
    out = _render(tmp_path, RenderJob(prompt="a lighthouse at dusk", duration_seconds=2))

    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (1280, 720)
        assert stream.pix_fmt == "yuv420p"
        assert stream.average_rate == 24
        assert container.duration is not None and container.duration / av.time_base == pytest.approx(2.0)
        assert sum(1 for _ in container.decode(video=0)) == 48


def test_video_is_fast_start_and_has_a_jpeg_thumbnail(tmp_path: Path) -> None:
    out = _render(tmp_path, RenderJob(prompt="a lighthouse at dusk", duration_seconds=1))

    head = out.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # the index is at the front
    with Image.open(thumbnail_path_for(out)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (640, 360)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(
    ("aspect", "dimensions"), [(Aspect.PORTRAIT, (720, 1280)), (Aspect.SQUARE, (720, 720))]
)
def test_aspect_sets_the_dimensions(tmp_path: Path, aspect: Aspect, dimensions: tuple[int, int]) -> None:
    out = _render(tmp_path, RenderJob(prompt="tall and square", duration_seconds=1, aspect=aspect))

    frames = _decoded_frames(out)
    assert len(frames) == 24
    assert (frames[0].shape[1], frames[0].shape[0]) == dimensions


def test_1080p_is_full_hd(tmp_path: Path) -> None:
    out = _render(tmp_path, RenderJob(prompt="full hd", duration_seconds=1, resolution=Resolution.P1080))

    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1920, 1080)
        assert sum(1 for _ in container.decode(video=0)) == 24


def test_same_prompt_gives_identical_frames(tmp_path: Path) -> None:
    job = RenderJob(prompt="a paper boat on a puddle", duration_seconds=1)

    first, second = _render(tmp_path, job, "first.mp4"), _render(tmp_path, job, "second.mp4")

    assert _frame_hashes(first) == _frame_hashes(second)
    assert np.array_equal(Scene(job).frame(17), Scene(job).frame(17))


def test_different_prompt_gives_visibly_different_frames(tmp_path: Path) -> None:
    fox = _decoded_frames(_render(tmp_path, RenderJob(prompt="a fox", duration_seconds=1), "fox.mp4"))
    owl = _decoded_frames(_render(tmp_path, RenderJob(prompt="an owl", duration_seconds=1), "owl.mp4"))

    difference = np.abs(fox[0].astype(np.int16) - owl[0].astype(np.int16)).mean()
    assert difference > 20  # out of 255: a different palette and layout, not a few pixels


def test_frames_move_over_time(tmp_path: Path) -> None:
    frames = _decoded_frames(_render(tmp_path, RenderJob(prompt="moving things", duration_seconds=1)))

    assert np.abs(frames[0].astype(np.int16) - frames[-1].astype(np.int16)).mean() > 5


def test_reference_image_is_animated_and_resembles_the_image(tmp_path: Path) -> None:
    image_bytes = _quadrant_image()
    job = RenderJob(prompt="animate my picture", duration_seconds=2, reference_image=image_bytes)

    frames = _decoded_frames(_render(tmp_path, job))

    assert len(frames) == 48
    assert np.abs(frames[0].astype(np.int16) - frames[-1].astype(np.int16)).mean() > 2  # the view moves
    picture = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB"))
    upright = _coarse(picture[75:525])  # the 16:9 middle of the 4:3 picture
    upside_down = _coarse(picture[75:525][::-1, ::-1])
    for frame in (frames[0], frames[-1]):
        assert np.corrcoef(_coarse(frame), upright)[0, 1] > 0.75
        assert np.corrcoef(_coarse(frame), upside_down)[0, 1] < 0.2


def test_stop_request_raises_and_leaves_no_file(tmp_path: Path) -> None:
    frames_checked = 0

    def stop_after_five_frames() -> bool:
        nonlocal frames_checked
        frames_checked += 1
        return frames_checked > 5

    out = tmp_path / "cancelled.mp4"
    with pytest.raises(RenderCancelled):
        render_video(
            RenderJob(prompt="never finished", duration_seconds=2),
            out,
            lambda p: None,
            stop_after_five_frames,
        )

    assert list(tmp_path.iterdir()) == []


def test_progress_rises_to_100_only_when_the_file_is_in_place(tmp_path: Path) -> None:
    out = tmp_path / "progress.mp4"
    seen: list[tuple[int, bool]] = []

    render_video(
        RenderJob(prompt="count", duration_seconds=1),
        out,
        lambda p: seen.append((p, out.exists())),
        lambda: False,
    )

    percents = [percent for percent, _ in seen]
    assert percents == sorted(percents) and len(set(percents)) == len(percents)
    assert percents[-1] == 100 and 0 < percents[0] < 10
    assert all(not exists for percent, exists in seen if percent < 100)
    assert seen[-1] == (100, True)
