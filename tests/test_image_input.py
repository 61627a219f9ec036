"""flownet.io.image_to_tensor: the array forms it accepts, and one-line refusals of the others."""

import numpy as np
import pytest

from flownet.errors import FlowNetError
from flownet.io import image_to_tensor

RNG = np.random.default_rng(0)
RGB8 = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
EXPECTED = RGB8.astype(np.float64) / 255  # H x W x 3 in [0, 1]


def as_hwc(x) -> np.ndarray:
    assert x.shape[:2] == (1, 3) and x.dtype.is_floating_point
    return x[0].permute(1, 2, 0).double().numpy()


@pytest.mark.parametrize("form, img, expected", [
    ("uint8", RGB8, EXPECTED),
    ("uint16", RGB8.astype(np.uint16) * 257, EXPECTED),  # 257 * v / 65535 = v / 255
    ("float in [0, 1]", EXPECTED.astype(np.float32), EXPECTED),
    ("float64", EXPECTED, EXPECTED),
    ("grey H x W", RGB8[..., 1], np.repeat(EXPECTED[..., 1:2], 3, axis=2)),
    ("grey H x W x 1", RGB8[..., 1:2], np.repeat(EXPECTED[..., 1:2], 3, axis=2)),
    ("RGBA", np.dstack([RGB8, np.full((5, 7), 9, np.uint8)]), EXPECTED),
])
def test_accepted_forms(form, img, expected):
    np.testing.assert_allclose(as_hwc(image_to_tensor(img)), expected, atol=1e-6)


@pytest.mark.parametrize("img, words", [
    (RGB8.astype(np.float32), ["[0, 1]", "255"]),  # 0-255 floats: used to be divided by 255 again
    (EXPECTED - 0.5, ["[0, 1]"]),
    (np.full((5, 7, 3), np.nan, np.float32), ["[0, 1]"]),
    (RGB8.astype(np.int32), ["int32"]),
    (np.zeros((5, 7, 2), np.uint8), ["shape"]),
    (np.zeros((2, 5, 7, 3), np.uint8), ["shape"]),
])
def test_refused_forms_are_one_line(img, words):
    with pytest.raises(FlowNetError) as e:
        image_to_tensor(img)
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words)
