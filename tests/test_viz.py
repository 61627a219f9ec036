"""Flow pictures against the Middlebury colour code's definition, worked out by hand."""

import numpy as np
import pytest

from flownet import io, viz


def one_pixel(u: float, v: float, max_flow: float | None = 1.0) -> tuple[int, ...]:
    return tuple(int(c) for c in viz.flow_to_color(np.array([[[u, v]]], dtype=np.float32), max_flow)[0, 0])


def test_wheel_has_the_55_middlebury_colours():
    wheel = viz.color_wheel()
    assert wheel.shape == (55, 3)
    # segment starts: red, yellow (after RY 15), green (+YG 6), cyan (+GC 4), blue (+CB 11), magenta (+BM 13)
    for index, colour in [(0, (255, 0, 0)), (15, (255, 255, 0)), (21, (0, 255, 0)), (25, (0, 255, 255)),
                          (36, (0, 0, 255)), (49, (255, 0, 255))]:
        assert tuple(wheel[index]) == colour
    assert tuple(wheel[7]) == (255, 119, 0)  # RY ramp: floor(255 * 7 / 15)
    assert tuple(wheel[54]) == (255, 0, 43)  # MR ramp down: 255 - floor(255 * 5 / 6)


@pytest.mark.parametrize("u, v, expected", [
    (1, 0, (255, 0, 0)),      # right: red (angle pi, the start of the wheel)
    (0, 1, (255, 230, 0)),    # down: between wheel[13] = (255, 221, 0) and wheel[14] = (255, 238, 0)
    (-1, 0, (0, 209, 255)),   # left: wheel[27] = (0, 255 - floor(255 * 2 / 11), 255)
    (0, -1, (88, 0, 255)),    # up: between wheel[40] = (78, 0, 255) and wheel[41] = (98, 0, 255)
])
def test_known_directions(u, v, expected):
    assert one_pixel(u, v) == expected


def test_saturation_darkening_and_unknown():
    assert one_pixel(0.5, 0) == (255, 128, 128)  # half speed: halfway to white
    assert one_pixel(0, 0) == (255, 255, 255)  # no motion: white
    assert one_pixel(2, 0) == (191, 0, 0)  # beyond --max-flow: full colour times 0.75
    assert one_pixel(2e9, 0) == (0, 0, 0)  # Middlebury's unknown flow: black
    assert one_pixel(np.nan, 0) == (0, 0, 0)


def test_default_scale_is_the_largest_valid_speed():
    flow = np.array([[[4, 0], [2, 0], [1e10, 0]]], dtype=np.float32)
    img = viz.flow_to_color(flow)
    assert tuple(img[0, 0]) == (255, 0, 0) and tuple(img[0, 1]) == (255, 128, 128) and tuple(img[0, 2]) == (0, 0, 0)


def test_legend_wheel_and_inset():
    legend = viz.wheel_legend(101)
    assert tuple(legend[50, 50]) == (255, 255, 255)  # centre: no motion
    assert tuple(legend[50, 100]) == (255, 0, 0)  # right edge: red
    assert tuple(legend[0, 50]) == (88, 0, 255)  # top edge: up
    assert tuple(legend[0, 0]) == (255, 255, 255)  # outside the disc
    picture = viz.add_legend(np.zeros((200, 300, 3), np.uint8))
    assert picture.shape == (200, 300, 3) and picture[-10:, -10:].any() and not picture[:50, :50].any()


def test_rubberwhale_colours(shared_data):
    """The Middlebury RubberWhale ground truth: its static-looking right part moves left (cyan-blue), the fence
    right (pink); unknown pixels black."""
    flow = io.read_flo(shared_data / "middlebury/RubberWhale/flow10.flo")
    img = viz.flow_to_color(flow)
    valid = io.flow_valid_mask(flow)
    assert (img[~valid] == 0).all()
    right_part = img[50:150, 450:550].reshape(-1, 3).mean(0)
    assert right_part[2] > right_part[0]  # blue-ish: leftward motion
    fence = img[20:60, 20:250].reshape(-1, 3).mean(0)
    assert fence[0] > fence[1] and fence[0] > fence[2]  # red-ish: rightward motion


def test_curves_from_csv_logs(tmp_path):
    version = tmp_path / "logs" / "version_0"
    version.mkdir(parents=True)
    (version / "metrics.csv").write_text("epoch,step,train_epe_epoch,train_epe_step,train_loss,val_epe\n"
                                         "0,9,,3.5,9.9,\n0,19,,3.0,9.0,\n0,19,,,,2.5\n0,19,3.2,,,\n")
    curves = viz.read_curves(tmp_path)
    assert curves["train_epe_step"] == [(9, 3.5), (19, 3.0)]
    assert curves["val_epe"] == [(19, 2.5)] and curves["train_epe_epoch"] == [(19, 3.2)]
    viz.save_figure(viz.curves_figure(curves), tmp_path / "c.png")
    assert io.read_image(tmp_path / "c.png").shape[2] == 3
