"""Procedural Flying-Chairs-like image pairs with exactly known flow.

A scene is a textured background plus several textured foreground objects (random polygons and smooth blobs),
each layer moved by its own affine motion (translation, rotation, scale about its centre). Every layer is drawn by
sampling its texture at the inverse-transformed pixel coordinates, so the flow of a first-frame pixel is the
analytic motion ``M(p) - p`` of the topmost layer covering it there: the true motion, also where the pixel is
hidden in the second frame (the Flying Chairs convention). Motion sizes are drawn log-uniformly from sub-pixel to
tens of pixels with a heavy tail, a share of scenes moves by sub-pixel to few-pixel amounts only (as Middlebury
does), some pairs are exactly static, and the second frame gets photometric changes. Textures are procedural
(noise, gradients, stripes, checkerboards, blotches) or, given ``flownet.textures.RealTextures``, crops of real
photos and video frames mixed in at ``real_fraction`` (objects are then photo patches cut out by the shape masks).

Every layer's motion is interpolated in time (translation, rotation angle and log-scale linearly in t), so the
frame at any t between the two is rendered exactly too, with the same occlusion order (``render_triplets``).

Closer to real footage, each off by default (the ``REALISTIC`` preset turns them on for a share of the scenes): a
moving camera (the background's motion, zooming about a random point, carries the objects too, their own motion on
top), motion blur (a frame averaged over a shutter interval around its time), JPEG compression (8 x 8 block DCT
quantisation) and RAFT's occlusion augmentation (rectangles of the mean colour on the second frame). Only the images
change with the last three: the flow stays the motion between the middles of the exposures.

Everything is batched torch code driven by a ``torch.Generator``: deterministic for a seed, and the same code
runs on a GPU. Shapes follow the package: images B x 3 x H x W in [0, 1], flow B x 2 x H x W in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from .textures import RealTextures

OBJECT_TEXTURE = 160  # side of an object's texture + alpha canvas


@dataclass(frozen=True)
class SynthConfig:
    """Scene statistics. Sizes in pixels at the rendered size; motions in pixels per frame pair."""

    height: int = 384
    width: int = 512
    min_objects: int = 2
    max_objects: int = 8
    object_size: tuple[float, float] = (0.08, 0.45)  # half-size as a fraction of min(H, W), log-uniform
    background_motion: tuple[float, float] = (0.3, 10.0)  # log-uniform translation magnitude
    object_motion: tuple[float, float] = (0.3, 20.0)  # log-uniform translation magnitude
    tail_motion: tuple[float, float] = (15.0, 40.0)  # uniform, for a ``tail_fraction`` of objects
    tail_fraction: float = 0.12
    static_fraction: float = 0.05  # pairs with no motion at all
    max_rotation_deg: float = 8.0  # objects; the background gets a quarter of it
    max_scale_change: float = 0.08
    small_fraction: float = 0.15  # scenes with small motions only (rotation and scale change a quarter as large)
    small_background_motion: tuple[float, float] = (0.1, 2.0)  # log-uniform, in those scenes
    small_object_motion: tuple[float, float] = (0.1, 3.0)
    photometric: bool = True  # brightness / contrast / gamma change and sometimes blur towards the second frame
    noise: float = 0.02  # the largest standard deviation of the sensor noise (uniform per scene from 0)
    real_fraction: float = 0.5  # share of real-image textures when a real texture source is given
    camera_fraction: float = 0.0  # scenes filmed by a moving camera: the background's motion carries the objects too
    camera_zoom: float = 0.03  # the camera's largest scale change there, about a random point (a quarter if small)
    motion_blur: float = 0.0  # scenes whose frames are blurred by their motion during an exposure
    exposure: tuple[float, float] = (0.1, 0.5)  # uniform, as a fraction of the frame interval
    compression: float = 0.0  # share of frames JPEG-compressed
    quality: tuple[int, int] = (30, 90)  # uniform JPEG quality of those
    occlusion: float = 0.0  # pairs whose second frame gets 1-3 rectangles of its mean colour (RAFT's augmentation)


REALISTIC = SynthConfig(camera_fraction=0.4, motion_blur=0.25, compression=0.25, occlusion=0.3)
PRESETS = {"default": SynthConfig(), "realistic": REALISTIC}  # by name, for the training options


def _rand(gen: torch.Generator, *shape: int, device: torch.device | None = None) -> torch.Tensor:
    return torch.rand(*shape, generator=gen, device=device)


def _uniform(gen: torch.Generator, lo: float, hi: float, *shape: int, device=None) -> torch.Tensor:
    return lo + (hi - lo) * _rand(gen, *shape, device=device)


def _log_uniform(gen: torch.Generator, lo: float, hi: float, *shape: int, device=None) -> torch.Tensor:
    return torch.exp(_uniform(gen, math.log(lo), math.log(hi), *shape, device=device))


def _unit_grid(h: int, w: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1] (align_corners=False convention), each H x W."""
    ys = (torch.arange(h, device=device) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=device) + 0.5) / w * 2 - 1
    return torch.meshgrid(ys, xs, indexing="ij")


# ----------------------------------------------------------------------------------------------- textures
def fractal_noise(gen: torch.Generator, n: int, c: int, h: int, w: int, device=None) -> torch.Tensor:
    """Multi-scale value noise in [0, 1]: octaves from 4 px cells to single pixels, random spectral slope."""
    slope = _uniform(gen, 0.4, 1.4, n, 1, 1, 1, device=device)
    out = torch.zeros(n, c, h, w, device=device)
    total = torch.zeros(n, 1, 1, 1, device=device)
    size = 4
    while True:
        sh, sw = max(2, size * h // max(h, w)), max(2, size * w // max(h, w))
        octave = _rand(gen, n, c, sh, sw, device=device)
        if (sh, sw) != (h, w):
            octave = F.interpolate(octave, size=(h, w), mode="bilinear", align_corners=False)
        amp = (size / 4.0) ** -slope
        out += amp * octave
        total += amp
        if sh >= h and sw >= w:
            break
        size = min(size * 2, max(h, w))
    return (out / total - 0.5) * 2.0 + 0.5  # undo the averaging's loss of contrast


def _palette_ramp(gen: torch.Generator, field: torch.Tensor, device=None) -> torch.Tensor:
    """Map a scalar field in [0, 1] (N x 1 x H x W) through a random 3-colour ramp to RGB."""
    n = field.shape[0]
    colours = _rand(gen, n, 3, 3, 1, 1, device=device)  # 3 colours x RGB
    f = field.clamp(0, 1) * 2
    lo = torch.where(f < 1, colours[:, 0], colours[:, 1])
    hi = torch.where(f < 1, colours[:, 1], colours[:, 2])
    t = torch.where(f < 1, f, f - 1)
    return lo + (hi - lo) * t


def textures(gen: torch.Generator, n: int, h: int, w: int, device=None) -> torch.Tensor:
    """N x 3 x H x W textures from several families (multi-scale noise, gradients, stripes, checkerboards,
    blotches), in colour, desaturated or grayscale, with fine detail on top. Values in [0, 1]."""
    yy, xx = _unit_grid(h, w, device)
    angle = _uniform(gen, 0, math.pi, n, 1, 1, 1, device=device)
    u = xx * torch.cos(angle) + yy * torch.sin(angle)
    v = -xx * torch.sin(angle) + yy * torch.cos(angle)
    freq = _log_uniform(gen, 1.5, 25.0, n, 1, 1, 1, device=device)
    phase = _uniform(gen, 0, 2 * math.pi, n, 1, 1, 1, device=device)
    sharp = _log_uniform(gen, 1.0, 30.0, n, 1, 1, 1, device=device)
    noise = fractal_noise(gen, n, 1, h, w, device)

    fields = torch.stack(
        [
            noise,  # multi-scale noise
            (u + 1) / 2 + 0.3 * (noise - 0.5),  # gradient
            torch.sigmoid(sharp * torch.sin(math.pi * freq * u + phase)),  # stripes
            torch.sigmoid(sharp * torch.sin(math.pi * freq * u + phase) * torch.sin(math.pi * freq * v)),  # checker
            torch.sigmoid(sharp * (noise - 0.5)),  # blotches
        ]
    )
    family = torch.randint(0, fields.shape[0], (n,), generator=gen, device=device)
    field = fields[family, torch.arange(n, device=device)]
    tex = _palette_ramp(gen, field, device)
    coloured_noise = fractal_noise(gen, n, 3, h, w, device)
    is_noise = (family == 0).view(n, 1, 1, 1)
    tex = torch.where(is_noise & (_rand(gen, n, 1, 1, 1, device=device) < 0.5), coloured_noise, tex)

    detail = _uniform(gen, 0.0, 0.12, n, 1, 1, 1, device=device)
    tex = tex + detail * (_rand(gen, n, 1, h, w, device=device) - 0.5)
    gray = tex.mean(1, keepdim=True)
    mode = _rand(gen, n, 1, 1, 1, device=device)  # < 0.6 colour, < 0.8 desaturated, else grayscale
    keep = torch.where(mode < 0.6, 1.0, torch.where(mode < 0.8, _uniform(gen, 0.1, 0.5, n, 1, 1, 1, device=device), 0.0))
    return (gray + keep * (tex - gray)).clamp(0, 1)


# ----------------------------------------------------------------------------------------------- shapes
def shape_alpha(gen: torch.Generator, n: int, size: int, device=None) -> torch.Tensor:
    """N x 1 x S x S anti-aliased masks of star-shaped random polygons (3-10 vertices) and smooth blobs."""
    yy, xx = _unit_grid(size, size, device)
    r = torch.sqrt(xx**2 + yy**2).expand(n, -1, -1)
    theta = torch.atan2(yy, xx).expand(n, -1, -1) + math.pi  # [0, 2 pi]

    # polygons: sorted vertex angles, radii; boundary radius along each ray from the edge it crosses
    k = 10
    nverts = torch.randint(3, k + 1, (n, 1), generator=gen, device=device)
    ang = torch.sort(_rand(gen, n, k, device=device) * 2 * math.pi, dim=1).values
    used = torch.arange(k, device=device) < nverts
    ang = torch.where(used, ang, torch.full_like(ang, 9.0))  # unused vertices pushed past 2 pi
    ang, _ = torch.sort(ang, dim=1)
    rad = _uniform(gen, 0.45, 0.95, n, k, device=device)
    last = (nverts - 1).squeeze(1)
    idx_flat = torch.searchsorted(ang.contiguous(), theta.reshape(n, -1).contiguous()) - 1  # edge start, -1 = wrap
    rows = torch.arange(n, device=device).unsqueeze(1)
    i0 = torch.where(idx_flat < 0, last.unsqueeze(1), idx_flat.clamp(max=k - 1))
    i0 = torch.minimum(i0, last.unsqueeze(1))
    i1 = torch.where(i0 >= last.unsqueeze(1), torch.zeros_like(i0), i0 + 1)
    a0, a1 = ang[rows, i0], ang[rows, i1]
    a1 = torch.where(a1 <= a0, a1 + 2 * math.pi, a1)
    th = theta.reshape(n, -1)
    th = torch.where(th < a0, th + 2 * math.pi, th)
    r0, r1 = rad[rows, i0], rad[rows, i1]
    poly = r0 * r1 * torch.sin(a1 - a0) / (r0 * torch.sin(th - a0) + r1 * torch.sin(a1 - th)).clamp_min(1e-6)

    # blobs: radius = base * (1 + sum of a few random harmonics)
    harmonics = torch.arange(1, 6, device=device).view(1, 5, 1)
    amp = _uniform(gen, 0, 0.18, n, 5, 1, device=device) / harmonics
    ph = _uniform(gen, 0, 2 * math.pi, n, 5, 1, device=device)
    blob = 0.7 * (1 + (amp * torch.cos(harmonics * theta.reshape(n, 1, -1) + ph)).sum(1))

    is_poly = _rand(gen, n, 1, device=device) < 0.6
    boundary = torch.where(is_poly, poly, blob).reshape(n, size, size)
    softness = 1.0 / size  # about one canvas pixel of anti-aliasing
    return torch.sigmoid((boundary - r) / softness).unsqueeze(1)


# ----------------------------------------------------------------------------------------------- motion
def _affine(angle: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    """... x 2 x 2 matrices R(angle) @ diag(sx, sy)."""
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c * sx, -s * sy], -1), torch.stack([s * sx, c * sy], -1)], -2)


def _sample_layer(tex: torch.Tensor, lin: torch.Tensor, centre: torch.Tensor, size: tuple[int, int], mode: str,
                  box: tuple[slice, slice] = (slice(None), slice(None))) -> torch.Tensor:
    """Draw textures placed by ``p = centre + lin @ q`` (q in [-1, 1]^2 over the texture) on an H x W frame, or
    on the part ``box`` (rows, columns) of it.

    tex: N x C x h x w; lin: N x 2 x 2; centre: N x 2 (pixels) -> N x C x H x W (or the box's size).
    """
    h, w = size
    inv = torch.linalg.inv(lin)
    # pixel p = half * p_n + half, with p_n the frame's normalised coordinates (align_corners=False)
    half = torch.tensor([w / 2, h / 2], device=tex.device)
    theta = torch.cat([inv * half, (inv @ (half - centre).unsqueeze(-1))], -1)  # q = theta @ [p_n, 1]
    yn, xn = (g[box] for g in _unit_grid(h, w, tex.device))
    t = theta.view(-1, 1, 1, 2, 3)
    grid = t[..., 0] * xn[..., None] + t[..., 1] * yn[..., None] + t[..., 2]  # N x H x W x 2
    return F.grid_sample(tex, grid, mode="bilinear", padding_mode=mode, align_corners=False)


def _paint_objects(canvas: torch.Tensor, tex: torch.Tensor, lin: torch.Tensor, centre: torch.Tensor,
                   active: torch.Tensor, top: torch.Tensor | None) -> None:
    """Paint the active objects over ``canvas`` in layer order, each only inside its bounding box (outside it
    the texture's zero padding leaves the canvas as it is); ``top``, if given, gets the index (1..K) of the
    topmost object with alpha > 0.5 at each pixel.

    canvas: N x 3 x H x W (changed in place); tex: N x K x 4 x S x S; lin: N x K x 2 x 2; centre: N x K x 2;
    active: N x K; top: N x H x W.
    """
    n, _, h, w = canvas.shape
    # half extent (x, y) of the placed texture, with its bilinear footprint (a texel beyond q = +-1) and a pixel
    reach = lin.abs().sum(-1) * (1 + 2 / tex.shape[-1]) + 1
    lo = (centre - reach).floor().clamp_min(0).long().tolist()
    hi = torch.minimum((centre + reach).ceil(), torch.tensor([w, h], device=centre.device)).long().tolist()
    for i, j in active.nonzero().tolist():
        (x0, y0), (x1, y1) = lo[i][j], hi[i][j]
        if x1 <= x0 or y1 <= y0:
            continue
        box = (slice(y0, y1), slice(x0, x1))
        layer = _sample_layer(tex[i, j, None], lin[i, j, None], centre[i, j, None], (h, w), "zeros", box)[0]
        under = canvas[i, :, box[0], box[1]]
        under += layer[3:] * (layer[:3] - under)
        if top is not None:
            top[i, box[0], box[1]] = torch.where(layer[3] > 0.5, j + 1, top[i, box[0], box[1]])


def mixed_textures(gen: torch.Generator, n: int, h: int, w: int, real: RealTextures | None = None,
                   real_fraction: float = 0.5, device=None) -> torch.Tensor:
    """N x 3 x H x W textures: procedural, or with ``real`` given, each a real crop with ``real_fraction``."""
    if real is None:
        return textures(gen, n, h, w, device)
    is_real = _rand(gen, n, device=device) < real_fraction
    out = torch.empty(n, 3, h, w, device=device)
    k = int(is_real.sum())
    if k:
        out[is_real] = real.crops(gen, k, h, w, device)
    if k < n:
        out[~is_real] = textures(gen, n - k, h, w, device)
    return out


def object_canvases(gen: torch.Generator, n: int, device=None, real: RealTextures | None = None,
                    real_fraction: float = 0.5) -> torch.Tensor:
    """N x 4 x S x S object textures with their shape as the alpha channel (real crops cut by the shape)."""
    if n == 0:
        return torch.zeros(0, 4, OBJECT_TEXTURE, OBJECT_TEXTURE, device=device)
    rgb = mixed_textures(gen, n, OBJECT_TEXTURE, OBJECT_TEXTURE, real, real_fraction, device)
    return torch.cat([rgb, shape_alpha(gen, n, OBJECT_TEXTURE, device)], 1)


class TexturePools:
    """Pools of background textures and object canvases, a fraction of them renewed at every draw.

    Making textures costs more than rendering a scene from them; objects are placed, rotated and scaled anew in
    every scene and drawn textures get random flips and colour-channel orders, so a slowly renewed pool keeps the
    variety at a fraction of the cost. With ``real`` given, a ``config.real_fraction`` share of the textures are
    crops of its images.
    """

    def __init__(self, gen: torch.Generator, config: SynthConfig, backgrounds: int = 48, objects: int = 384,
                 renew: float = 0.02, device=None, real: RealTextures | None = None) -> None:
        h, w = config.height, config.width
        self.make_backgrounds = lambda g, c: mixed_textures(g, c, h, w, real, config.real_fraction, device)
        self.make_objects = lambda g, c: object_canvases(g, c, device, real, config.real_fraction)
        self.backgrounds = self.make_backgrounds(gen, backgrounds)
        self.objects = self.make_objects(gen, objects)
        self.renew, self.device = renew, device

    def _refresh(self, gen: torch.Generator, pool: torch.Tensor, make) -> None:
        count = max(1, round(self.renew * pool.shape[0]))
        idx = torch.randperm(pool.shape[0], generator=gen, device=self.device)[:count]
        pool[idx] = make(gen, count)

    def draw(self, gen: torch.Generator, n_backgrounds: int, n_objects: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Renew part of each pool, then draw textures (with random flips and channel orders)."""
        self._refresh(gen, self.backgrounds, self.make_backgrounds)
        self._refresh(gen, self.objects, self.make_objects)
        return _vary(gen, self.backgrounds, n_backgrounds), _vary(gen, self.objects, n_objects)


def _vary(gen: torch.Generator, pool: torch.Tensor, n: int) -> torch.Tensor:
    """Pick ``n`` pool entries with random horizontal/vertical flips and a random order of the RGB channels."""
    picks = torch.randint(0, pool.shape[0], (n,), generator=gen, device=pool.device).tolist()
    flips = (_rand(gen, n, 2, device=pool.device) < 0.5).tolist()
    perms = torch.argsort(_rand(gen, n, 3, device=pool.device), dim=1).tolist()
    out = torch.empty((n, *pool.shape[1:]), dtype=pool.dtype, device=pool.device)
    for i, (pick, (horizontal, vertical), perm) in enumerate(zip(picks, flips, perms)):
        dims = [d for d, on in ((-1, horizontal), (-2, vertical)) if on]
        tex = pool[pick].flip(dims) if dims else pool[pick]
        out[i] = tex[perm + list(range(3, pool.shape[1]))]  # RGB in a new order, alpha (if any) kept
    return out


@dataclass
class Scene:
    """N drawn scenes: layer 0 = background, 1..K = objects; each layer placed by ``p = centre + lin @ q`` in the
    first frame and moved about its centre by ``p -> centre + shift + R(rot) scale (p - centre)`` to the second.
    In the ``camera`` scenes the background's motion is the camera's, about ``pivot`` instead of its centre, and it
    moves the objects too: their own motion comes first, the camera's after it."""

    bg_tex: torch.Tensor  # N x 3 x H x W
    obj_tex: torch.Tensor  # N x K x 4 x S x S
    active: torch.Tensor  # N x K bool
    lin: torch.Tensor  # N x L x 2 x 2
    centre: torch.Tensor  # N x L x 2
    shift: torch.Tensor  # N x L x 2
    rot: torch.Tensor  # N x L (radians)
    scale: torch.Tensor  # N x L
    size: tuple[int, int]
    camera: torch.Tensor | None = None  # N bool
    pivot: torch.Tensor | None = None  # N x 2 (pixels)

    def motion(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N x L x 2 x 2 rotation-scale, N x L x 2 translation) of each layer about its centre at times t (N): the
        rotation angle, log-scale and translation of the own and the camera's motion interpolated linearly, identity
        at t = 0 and the full motion at t = 1."""
        t = t.view(-1, 1)
        lin, shift = _affine(self.rot * t, self.scale**t, self.scale**t), self.shift * t.unsqueeze(-1)
        if self.camera is None:
            return lin, shift
        # p -> pivot + pan + cam (own(p) - pivot), with own(p) = centre + shift + lin (p - centre) (the identity for
        # the background), is centre + pan + cam shift + (cam - I)(centre - pivot) + cam lin (p - centre)
        cam, pan = lin[:, :1], shift[:, :1]
        own_lin = torch.cat([torch.eye(2, device=lin.device).expand_as(cam), lin[:, 1:]], 1)
        own_shift = torch.cat([torch.zeros_like(pan), shift[:, 1:]], 1).unsqueeze(-1)
        arm = (self.centre - self.pivot.unsqueeze(1)).unsqueeze(-1)
        carried = pan + (cam @ own_shift + (cam - torch.eye(2, device=lin.device)) @ arm).squeeze(-1)
        camera = self.camera.view(-1, 1, 1)
        return torch.where(camera.unsqueeze(-1), cam @ own_lin, lin), torch.where(camera, carried, shift)

    def select(self, idx: torch.Tensor) -> "Scene":
        """The scenes ``idx`` (a 1-D index tensor) of these."""
        parts = {f.name: getattr(self, f.name) for f in fields(self)}
        return Scene(**{k: v[idx] if torch.is_tensor(v) else v for k, v in parts.items()})

    def frame(self, t: torch.Tensor, top: torch.Tensor | None = None) -> torch.Tensor:
        """N x 3 x H x W frames at times t (N), before the photometric change; ``top`` as in ``_paint_objects``."""
        motion, shift = self.motion(t)
        lin, centre = motion @ self.lin, self.centre + shift
        img = _sample_layer(self.bg_tex, lin[:, 0], centre[:, 0], self.size, "reflection")
        _paint_objects(img, self.obj_tex, lin[:, 1:], centre[:, 1:], self.active, top)
        return img

    def flow(self, top: torch.Tensor) -> torch.Tensor:
        """N x 2 x H x W flow from t = 0 to t = 1 of the layers ``top`` (N x H x W, 0 = background) shows at t = 0."""
        n = top.shape[0]
        h, w = self.size
        device = top.device
        motion, shift = self.motion(torch.ones(n, device=device))
        # a layer moves p to centre + shift + motion @ (p - centre): flow = (motion - I) @ p + offset
        eye = torch.eye(2, device=device)
        offset = shift + ((eye - motion) @ self.centre.unsqueeze(-1)).squeeze(-1)
        params = torch.cat([(motion - eye).flatten(2), offset], -1)  # N x L x 6
        per_pixel = torch.gather(params, 1, top.view(n, -1, 1).expand(-1, -1, 6)).view(n, h, w, 6)
        ys, xs = torch.meshgrid(torch.arange(h, device=device) + 0.5, torch.arange(w, device=device) + 0.5,
                                indexing="ij")
        return torch.stack([per_pixel[..., 0] * xs + per_pixel[..., 1] * ys + per_pixel[..., 4],
                            per_pixel[..., 2] * xs + per_pixel[..., 3] * ys + per_pixel[..., 5]], 1)


def draw_scenes(gen: torch.Generator, n: int, config: SynthConfig = SynthConfig(), device=None,
                pools: TexturePools | None = None, real: RealTextures | None = None) -> Scene:
    """Draw ``n`` scenes: textures (from ``pools`` when given, fast for streaming; else made afresh, with real
    crops from ``real`` if given), object shapes and places, and each layer's motion."""
    cfg = config
    h, w, k = cfg.height, cfg.width, cfg.max_objects
    n_layers = k + 1
    if pools is None:
        bg_tex = mixed_textures(gen, n, h, w, real, cfg.real_fraction, device)
        obj_tex = object_canvases(gen, n * k, device, real, cfg.real_fraction)
    else:
        bg_tex, obj_tex = pools.draw(gen, n, n * k)
    active = torch.arange(k, device=device) < torch.randint(cfg.min_objects, k + 1, (n, 1), generator=gen, device=device)

    short = min(h, w)
    half = _log_uniform(gen, *cfg.object_size, n, k, device=device) * short
    aspect = _log_uniform(gen, 0.6, 1.6, n, k, device=device)
    obj_lin = _affine(_uniform(gen, 0, 2 * math.pi, n, k, device=device), half * aspect.sqrt(), half / aspect.sqrt())
    obj_centre = torch.stack([_uniform(gen, -0.05, 1.05, n, k, device=device) * w,
                              _uniform(gen, -0.05, 1.05, n, k, device=device) * h], -1)
    bg_scale = _uniform(gen, 1.0, 1.3, n, device=device)
    bg_lin = _affine(_uniform(gen, -0.2, 0.2, n, device=device), bg_scale * w / 2, bg_scale * h / 2)
    bg_centre = torch.tensor([w / 2, h / 2], device=device).expand(n, 2)

    # motion of each layer about its centre: p' = centre + shift + rot_scale @ (p - centre)
    is_bg = torch.arange(n_layers, device=device) == 0
    small = (_rand(gen, n, 1, device=device) < cfg.small_fraction)
    mag = torch.where(is_bg,
                      torch.where(small, _log_uniform(gen, *cfg.small_background_motion, n, n_layers, device=device),
                                  _log_uniform(gen, *cfg.background_motion, n, n_layers, device=device)),
                      torch.where(small, _log_uniform(gen, *cfg.small_object_motion, n, n_layers, device=device),
                                  _log_uniform(gen, *cfg.object_motion, n, n_layers, device=device)))
    tail = (_rand(gen, n, n_layers, device=device) < cfg.tail_fraction) & ~is_bg & ~small
    mag = torch.where(tail, _uniform(gen, *cfg.tail_motion, n, n_layers, device=device), mag)
    direction = _uniform(gen, 0, 2 * math.pi, n, n_layers, device=device)
    shift = torch.stack([mag * torch.cos(direction), mag * torch.sin(direction)], -1)
    damp = torch.where(is_bg, 0.25, 1.0) * torch.where(small, 0.25, 1.0)  # background and small scenes: a quarter
    rot = (2 * _rand(gen, n, n_layers, device=device) - 1) * math.radians(cfg.max_rotation_deg) * damp
    scale = 1 + (2 * _rand(gen, n, n_layers, device=device) - 1) * cfg.max_scale_change * damp
    static = (_rand(gen, n, device=device) < cfg.static_fraction).view(n, 1)
    camera = pivot = None
    if cfg.camera_fraction > 0:  # the background's motion becomes the camera's, zooming about a random point
        camera = _rand(gen, n, device=device) < cfg.camera_fraction
        pivot = torch.stack([_uniform(gen, 0, w, n, device=device), _uniform(gen, 0, h, n, device=device)], -1)
        zoom = (2 * _rand(gen, n, device=device) - 1) * cfg.camera_zoom * torch.where(small[:, 0], 0.25, 1.0)
        scale[:, 0] = torch.where(camera, 1 + zoom, scale[:, 0])
    return Scene(
        bg_tex=bg_tex,
        obj_tex=obj_tex.view(n, k, *obj_tex.shape[1:]),
        active=active,
        lin=torch.cat([bg_lin.unsqueeze(1), obj_lin], 1),
        centre=torch.cat([bg_centre.unsqueeze(1), obj_centre], 1),
        shift=torch.where(static.unsqueeze(-1), 0.0, shift),
        rot=torch.where(static, 0.0, rot),
        scale=torch.where(static, 1.0, scale),
        size=(h, w),
        camera=camera,
        pivot=pivot,
    )


def render_frames(gen: torch.Generator, scene: Scene, times: list[torch.Tensor],
                  config: SynthConfig = SynthConfig()) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The frames of ``scene`` at each of ``times`` (each N, in [0, 1]; the first must be 0), photometric change,
    motion blur, compression and occlusion (of the second frame) included as ``config`` asks, and the flow from
    t = 0 to t = 1 (exact, also where hidden at t = 1: the Flying Chairs convention)."""
    n = scene.bg_tex.shape[0]
    top = torch.zeros(n, *scene.size, dtype=torch.long, device=scene.bg_tex.device)  # 0 = background
    frames = [scene.frame(t, top if k == 0 else None) for k, t in enumerate(times)]
    flow = scene.flow(top)
    motion_blur(gen, scene, frames, times, flow, config)
    change = Photometric.draw(gen, n, config, scene.bg_tex.device)
    out = []
    for k, (img, t) in enumerate(zip(frames, times)):
        img = change.apply(gen, img, t)
        if k == 1:
            img = erase(gen, img, config.occlusion)
        out.append(compress(gen, img, config))
    return out, flow


def motion_blur(gen: torch.Generator, scene: Scene, frames: list[torch.Tensor], times: list[torch.Tensor],
                flow: torch.Tensor, config: SynthConfig) -> None:
    """Blur a ``config.motion_blur`` share of the scenes as a shutter open for ``config.exposure`` of the frame
    interval does: each of their ``frames`` (changed in place) becomes the mean of the scene rendered at instants
    spread over the exposure, centred on the frame's time (so the flow, between those centres, stays exact)."""
    if config.motion_blur <= 0:
        return
    n, device = flow.shape[0], flow.device
    blurred = _rand(gen, n, device=device) < config.motion_blur
    exposure = _uniform(gen, *config.exposure, n, device=device)
    longest = (flow.norm(dim=1).flatten(1).amax(1) * exposure).tolist()  # each scene's longest streak, in pixels
    for i in torch.nonzero(blurred).flatten().tolist():
        one, e = scene.select(torch.tensor([i], device=device)), float(exposure[i])
        steps = min(16, math.ceil(longest[i]) + 2)  # about one instant per pixel of the streak
        for img, t in zip(frames, times):
            img[i] = torch.cat([one.frame(t[i : i + 1] + (k / (steps - 1) - 0.5) * e) for k in range(steps)]).mean(0)


def erase(gen: torch.Generator, img: torch.Tensor, share: float) -> torch.Tensor:
    """RAFT's occlusion augmentation: a ``share`` of the images (N x 3 x H x W) get 1 to 3 rectangles (sides 13 to
    27 % of the shorter image side, as RAFT's 50-100 px on its 368 x 496 crops) filled with the image's mean colour."""
    if share <= 0:
        return img
    n, _, h, w = img.shape
    device = img.device
    hit = _rand(gen, n, 1, 1, 1, device=device) < share
    count = torch.randint(1, 4, (n, 1, 1, 1), generator=gen, device=device)
    side = _uniform(gen, 0.135, 0.27, n, 3, 2, device=device) * min(h, w)  # per rectangle: width, height
    corner = _rand(gen, n, 3, 2, device=device) * torch.tensor([w, h], device=device)
    lo, hi = corner.view(n, 3, 2, 1, 1), (corner + side).view(n, 3, 2, 1, 1)
    ys, xs = torch.meshgrid(torch.arange(h, device=device) + 0.5, torch.arange(w, device=device) + 0.5, indexing="ij")
    inside = (lo[:, :, 0] <= xs) & (xs < hi[:, :, 0]) & (lo[:, :, 1] <= ys) & (ys < hi[:, :, 1])  # N x 3 x H x W
    inside &= torch.arange(3, device=device).view(1, 3, 1, 1) < count
    mask = hit & inside.any(1, keepdim=True)
    return torch.where(mask, img.mean((2, 3), keepdim=True), img)


# JPEG's quantisation tables (ITU T.81, Annex K) for quality 50: luminance, chrominance
JPEG_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
JPEG_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
               47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32
YCBCR = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]  # JFIF, from RGB


def jpeg(img: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """What JPEG compression at ``quality`` (N, 1 to 100) leaves of images N x 3 x H x W in [0, 1]: YCbCr with
    the chroma averaged over 2 x 2 pixels (4:2:0), the 8 x 8 block DCT coefficients of each plane rounded to
    multiples of the standard tables scaled to the quality (as libjpeg scales them)."""
    n, _, h, w = img.shape
    device = img.device
    x = F.pad(img, (0, -w % 16, 0, -h % 16), mode="replicate") * 255
    ycc = torch.einsum("ij,njhw->nihw", torch.tensor(YCBCR, device=device), x)
    q = quality.to(device, torch.float32).view(n, 1, 1, 1, 1, 1)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)

    def table(base: list[int]) -> torch.Tensor:
        return ((torch.tensor(base, device=device).view(8, 8) * scale + 50) / 100).floor().clamp(1, 255)

    luma = _quantise_blocks(ycc[:, :1] - 128, table(JPEG_LUMA)) + 128
    chroma = _quantise_blocks(F.avg_pool2d(ycc[:, 1:], 2), table(JPEG_CHROMA))
    ycc = torch.cat([luma, F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)], 1)
    rgb = torch.einsum("ij,njhw->nihw", torch.linalg.inv(torch.tensor(YCBCR, device=device)), ycc)
    return (rgb[..., :h, :w] / 255).clamp(0, 1)


def _quantise_blocks(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Planes N x C x H x W (multiples of 8) with the orthonormal DCT coefficients of each 8 x 8 block rounded to
    multiples of ``table`` (N x 1 x 1 x 1 x 8 x 8)."""
    n, c, h, w = x.shape
    k = torch.arange(8, device=x.device, dtype=torch.float32)
    dct = torch.cos(math.pi * (2 * k + 1) * k.view(8, 1) / 16) * torch.where(k == 0, 1 / 8, 2 / 8).sqrt().view(8, 1)
    blocks = x.view(n, c, h // 8, 8, w // 8, 8).transpose(3, 4)
    coef = dct @ blocks @ dct.T
    blocks = dct.T @ (torch.round(coef / table) * table) @ dct
    return blocks.transpose(3, 4).reshape(n, c, h, w)


def compress(gen: torch.Generator, img: torch.Tensor, config: SynthConfig) -> torch.Tensor:
    """A ``config.compression`` share of the images N x 3 x H x W JPEG-compressed at a quality uniform in
    ``config.quality``."""
    if config.compression <= 0:
        return img
    n = img.shape[0]
    idx = torch.nonzero(_rand(gen, n, device=img.device) < config.compression).squeeze(1)
    quality = torch.randint(config.quality[0], config.quality[1] + 1, (n,), generator=gen, device=img.device)[idx]
    if not idx.numel():
        return img
    out = img.clone()
    out[idx] = jpeg(img[idx], quality)
    return out


def render_pairs(gen: torch.Generator, n: int, config: SynthConfig = SynthConfig(), device=None,
                 pools: TexturePools | None = None, real: RealTextures | None = None) -> dict[str, torch.Tensor]:
    """Render ``n`` image pairs: {"img1", "img2": N x 3 x H x W, "flow": N x 2 x H x W, "valid": N x H x W}.

    Textures come from ``pools`` when given (fast, for streaming), else are made afresh (real crops from ``real``
    mixed in when given).
    """
    scene = draw_scenes(gen, n, config, device, pools, real)
    zero, one = torch.zeros(n, device=device), torch.ones(n, device=device)
    (img1, img2), flow = render_frames(gen, scene, [zero, one], config)
    h, w = scene.size
    return {"img1": img1, "img2": img2, "flow": flow, "valid": torch.ones(n, h, w, dtype=torch.bool, device=device)}


def render_triplets(gen: torch.Generator, n: int, config: SynthConfig = SynthConfig(),
                    t: float | torch.Tensor = 0.5, device=None, pools: TexturePools | None = None,
                    real: RealTextures | None = None) -> dict[str, torch.Tensor]:
    """Render ``n`` triplets: {"img0", "gt" (the exact frame at time t), "img1": N x 3 x H x W, "t": N, "flow":
    N x 2 x H x W from img0 to img1, "valid": N x H x W}. ``t`` is one time or one per triplet (N).

    For the same generator state, img0 / img1 / flow are those ``render_pairs`` gives as img1 / img2 / flow.
    """
    scene = draw_scenes(gen, n, config, device, pools, real)
    t = torch.as_tensor(t, dtype=torch.float32, device=device).expand(n).clone()
    zero, one = torch.zeros(n, device=device), torch.ones(n, device=device)
    (img0, img1, gt), flow = render_frames(gen, scene, [zero, one, t], config)
    h, w = scene.size
    return {"img0": img0, "img1": img1, "gt": gt, "t": t, "flow": flow,
            "valid": torch.ones(n, h, w, dtype=torch.bool, device=device)}


@dataclass
class Photometric:
    """A global brightness/contrast/gamma change reached at t = 1 (interpolated linearly in between), sometimes a
    slight blur faded in the same way, and sensor noise of one strength per scene, drawn anew for every frame."""

    gain: torch.Tensor  # N x 1 x 1 x 1 each
    bias: torch.Tensor
    gamma: torch.Tensor
    sigma: torch.Tensor
    blur: torch.Tensor  # N x 1 x 1 x 1 bool

    @classmethod
    def draw(cls, gen: torch.Generator, n: int, config: SynthConfig = SynthConfig(), device=None) -> "Photometric":
        shape = (n, 1, 1, 1)
        change = cls(gain=_uniform(gen, 0.92, 1.08, *shape, device=device),
                     bias=_uniform(gen, -0.04, 0.04, *shape, device=device),
                     gamma=_uniform(gen, 0.9, 1.1, *shape, device=device),
                     sigma=_uniform(gen, 0, config.noise, *shape, device=device),
                     blur=_rand(gen, *shape, device=device) < 0.2)
        if not config.photometric:
            change.gain, change.gamma = torch.ones(shape, device=device), torch.ones(shape, device=device)
            change.bias, change.blur = torch.zeros(shape, device=device), torch.zeros(shape, dtype=torch.bool, device=device)
        return change

    def apply(self, gen: torch.Generator, img: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The change at times t (N) applied to frames ``img`` (N x 3 x H x W), noise added, clamped to [0, 1]."""
        t = t.view(-1, 1, 1, 1)
        out = img.clamp(1e-4, 1) ** (1 + t * (self.gamma - 1)) * (1 + t * (self.gain - 1)) + t * self.bias
        blur = torch.nonzero((self.blur & (t > 0)).flatten()).squeeze(1)
        if blur.numel():
            sharp = out[blur]
            blurred = F.avg_pool2d(F.pad(sharp, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
            out[blur] = sharp + t[blur] * (blurred - sharp)
        if self.sigma.any():
            out = out + self.sigma * torch.randn(out.shape, generator=gen, device=out.device)
        return out.clamp(0, 1)
