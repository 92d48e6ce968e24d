"""The submit activity hands each vendor our stored reference image in the form its adapter takes:
inline bytes (a data URI) for most, a signed URL of our copy for vendors that only fetch URLs (Luma)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from temporalio.exceptions import ApplicationError

from activities.reference_images import ReferenceImages
from core.models import StoredImage, VideoSpec
from storage import LocalMediaStorage, MediaSignatureStatus, reference_image_key
from tests.fixtures.image_server import png
from vendors.google import GoogleVeoVendor
from vendors.local import LocalVendor
from vendors.luma import LumaVendor

IMAGE = png((10, 120, 240))


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[LocalMediaStorage]:
    yield LocalMediaStorage(tmp_path, public_base_url="http://api.test", signing_secret=b"s" * 32)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _stored_spec(storage: LocalMediaStorage) -> VideoSpec:
    key = reference_image_key("proj_1", "vid_1", "image/png")
    stored = await storage.put_stream(key, _one(IMAGE), "image/png")
    image = StoredImage(key=key, content_type="image/png", size_bytes=stored.size_bytes, sha256=stored.sha256)
    return VideoSpec(prompt="p", reference_image=image)


@pytest.mark.parametrize("vendor", [LocalVendor("http://vendor.test"), GoogleVeoVendor("k")])
async def test_inline_vendors_get_the_stored_bytes_as_a_data_uri(
    storage: LocalMediaStorage, vendor: LocalVendor | GoogleVeoVendor
) -> None:
    spec = await ReferenceImages(storage, 60).spec_for(await _stored_spec(storage), vendor)
    header, _, payload = (spec.reference_image_url or "").partition(",")
    assert header == "data:image/png;base64" and base64.b64decode(payload) == IMAGE
    await vendor.aclose()


async def test_url_only_vendors_get_a_signed_url_of_our_copy(storage: LocalMediaStorage) -> None:
    vendor = LumaVendor("k")
    spec = await ReferenceImages(storage, 60).spec_for(await _stored_spec(storage), vendor)
    url = urlsplit(spec.reference_image_url or "")
    key = url.path.removeprefix("/v1/media/")
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert (url.scheme, url.netloc) == ("http", "api.test")
    assert storage.verify_signature(key, int(query["exp"]), query["sig"]) is MediaSignatureStatus.VALID
    assert storage.local_path(key).read_bytes() == IMAGE
    await vendor.aclose()


async def test_a_missing_stored_image_fails_the_job_instead_of_failing_over(
    storage: LocalMediaStorage,
) -> None:
    spec = await _stored_spec(storage)
    await storage.delete(spec.reference_image.key if spec.reference_image else "")
    with pytest.raises(ApplicationError) as failed:
        await ReferenceImages(storage, 60).spec_for(spec, LocalVendor("http://vendor.test"))
    assert failed.value.type == "storage_error" and failed.value.non_retryable


async def test_a_spec_without_a_stored_image_is_passed_through(storage: LocalMediaStorage) -> None:
    spec = VideoSpec(prompt="p")
    assert await ReferenceImages(storage, 60).spec_for(spec, LocalVendor("http://vendor.test")) is spec
