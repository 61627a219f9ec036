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



def test_legend_is_beside_the_picture_with_its_scale():
    img = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    small, large = viz.add_legend(img, 4.0), viz.add_legend(img, 40.0)
    assert small.shape[0] == 200 and small.shape[1] > 300
    assert np.array_equal(small[:, :300], img)  # nothing drawn over the picture
    panel_small, panel_large = small[:, 300:], large[:, 300:]
    assert (panel_small == 255).all(-1).mean() > 0.5 and not (panel_small == 255).all()  # a wheel on white
    text_rows = ~(panel_small == panel_large).all(axis=(1, 2))  # only the written scale differs
    assert text_rows.any() and np.nonzero(text_rows)[0].min() > 0.5 * np.nonzero(~(panel_small == 255).all(-1))[0].min()
    tall = viz.add_legend(img[:30, :40], 4.0)  # a short picture gets white below, not a cut legend
    assert tall.shape[0] > 30 and np.array_equal(tall[:30, :40], img[:30, :40]) and (tall[30:, :40] == 255).all()


def test_compare_error_panels_share_one_scale_and_one_colour_bar():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 2, (2, 32, 48, 2)).astype(np.float32)
    rows = [("small", np.zeros((32, 48, 3), np.uint8), gt[0], gt[0] + 0.1),
            ("large", np.zeros((32, 48, 3), np.uint8), gt[1], gt[1] + 3.0)]
    fig = viz.compare_figure(rows)
    errors = [ax.images[0] for ax in fig.axes if ax.get_title().startswith("error")]
    assert len(errors) == 2 and errors[0].norm is errors[1].norm  # one scale: 0.14 px darker than 4.2 px
    assert errors[0].norm(0.1 * np.sqrt(2)) < errors[1].norm(3.0 * np.sqrt(2))
    colour_bars = [ax for ax in fig.axes if "end-point error" in ax.get_ylabel()]
    assert len(colour_bars) == 1
    viz.pyplot().close(fig)


def test_arrows_at_full_size_with_a_key(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    flow = np.zeros((120, 200, 2), np.float32)
    flow[..., 0] = 1.5  # 1.5 px: arrows one step (8 px) apart are drawn 5 x longer
    fig = viz.arrows_figure(img, flow)
    from matplotlib.quiver import QuiverKey

    keys = [a for a in fig.axes[0].get_children() if isinstance(a, QuiverKey)]
    assert len(keys) == 1 and keys[0].U == 1 and keys[0].text.get_text() == "1 px of motion"  # drawn 5 px long
    assert any("arrows drawn 5 x their length" in t.get_text() for t in fig.texts)
    box = fig.axes[0].get_window_extent()
    assert (round(box.width), round(box.height)) == (200, 120)  # one image pixel per figure pixel
    viz.save_figure(fig, tmp_path / "a.png")
    assert io.read_image(tmp_path / "a.png").shape[0] >= 120


@pytest.mark.parametrize("x, nice", [(1, 1), (2.9, 2), (3.4, 3), (4.99, 3), (7, 5), (0.06, 0.05), (130, 100)])
def test_nice_number(x, nice):
    assert viz.nice_number(x) == pytest.approx(nice)


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
    fig = viz.curves_figure(curves)
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(s.replace(".", "").isdigit() for s in labels), labels  # 2, 3, 5: no 10^x
    train = next(line for line in ax.get_lines() if line.get_label().startswith("train EPE (step"))
    assert train.get_zorder() == max(line.get_zorder() for line in ax.get_lines()) and train.get_alpha() is None
    assert train.get_marker() == "."  # two points only: drawn as dots, not an invisible segment
    viz.save_figure(fig, tmp_path / "c.png")
    assert io.read_image(tmp_path / "c.png").shape[2] == 3
