"""Procedural Flying-Chairs-like image pairs with exactly known flow.

A scene is a textured background plus several textured foreground objects (random polygons and smooth blobs),
each layer moved by its own affine motion (translation, rotation, scale about its centre). Every layer is drawn by
sampling its texture at the inverse-transformed pixel coordinates, so the flow of a first-frame pixel is the
analytic motion ``M(p) - p`` of the topmost layer covering it there: the true motion, also where the pixel is
hidden in the second frame (the Flying Chairs convention). Motion sizes are drawn log-uniformly from sub-pixel to
tens of pixels with a heavy tail, some pairs are exactly static, and the second frame gets photometric changes.

Everything is batched torch code driven by a ``torch.Generator``: deterministic for a seed, and the same code
runs on a GPU. Shapes follow the package: images B x 3 x H x W in [0, 1], flow B x 2 x H x W in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

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


def object_canvases(gen: torch.Generator, n: int, device=None) -> torch.Tensor:
    """N x 4 x S x S object textures with their shape as the alpha channel."""
    if n == 0:
        return torch.zeros(0, 4, OBJECT_TEXTURE, OBJECT_TEXTURE, device=device)
    rgb = textures(gen, n, OBJECT_TEXTURE, OBJECT_TEXTURE, device)
    return torch.cat([rgb, shape_alpha(gen, n, OBJECT_TEXTURE, device)], 1)


class TexturePools:
    """Pools of background textures and object canvases, a fraction of them renewed at every draw.

    Making textures costs more than rendering a scene from them; objects are placed, rotated and scaled anew in
    every scene and drawn textures get random flips and colour-channel orders, so a slowly renewed pool keeps the
    variety at a fraction of the cost.
    """

    def __init__(self, gen: torch.Generator, config: SynthConfig, backgrounds: int = 48, objects: int = 384,
                 renew: float = 0.02, device=None) -> None:
        self.backgrounds = textures(gen, backgrounds, config.height, config.width, device)
        self.objects = object_canvases(gen, objects, device)
        self.renew, self.device = renew, device

    def _refresh(self, gen: torch.Generator, pool: torch.Tensor, make) -> None:
        count = max(1, round(self.renew * pool.shape[0]))
        idx = torch.randperm(pool.shape[0], generator=gen, device=self.device)[:count]
        pool[idx] = make(count)

    def draw(self, gen: torch.Generator, n_backgrounds: int, n_objects: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Renew part of each pool, then draw textures (with random flips and channel orders)."""
        h, w = self.backgrounds.shape[-2:]
        self._refresh(gen, self.backgrounds, lambda c: textures(gen, c, h, w, self.device))
        self._refresh(gen, self.objects, lambda c: object_canvases(gen, c, self.device))
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


def render_pairs(gen: torch.Generator, n: int, config: SynthConfig = SynthConfig(), device=None,
                 pools: TexturePools | None = None) -> dict[str, torch.Tensor]:
    """Render ``n`` image pairs: {"img1", "img2": N x 3 x H x W, "flow": N x 2 x H x W, "valid": N x H x W}.

    Textures come from ``pools`` when given (fast, for streaming), else are all made afresh.
    """
    cfg = config
    h, w, k = cfg.height, cfg.width, cfg.max_objects
    # layer 0 = background, covering the frame with margin; layers 1..k = objects
    n_layers = k + 1
    if pools is None:
        bg_tex, obj_tex = textures(gen, n, h, w, device), object_canvases(gen, n * k, device)
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
    lin1 = torch.cat([bg_lin.unsqueeze(1), obj_lin], 1)  # N x L x 2 x 2
    centre1 = torch.cat([bg_centre.unsqueeze(1), obj_centre], 1)  # N x L x 2

    # motion of each layer about its centre: p' = centre + shift + rot_scale @ (p - centre)
    is_bg = (torch.arange(n_layers, device=device) == 0).float()
    mag = torch.where(is_bg.bool(),
                      _log_uniform(gen, *cfg.background_motion, n, n_layers, device=device),
                      _log_uniform(gen, *cfg.object_motion, n, n_layers, device=device))
    tail = (_rand(gen, n, n_layers, device=device) < cfg.tail_fraction) & ~is_bg.bool()
    mag = torch.where(tail, _uniform(gen, *cfg.tail_motion, n, n_layers, device=device), mag)
    direction = _uniform(gen, 0, 2 * math.pi, n, n_layers, device=device)
    shift = torch.stack([mag * torch.cos(direction), mag * torch.sin(direction)], -1)
    rot_limit = math.radians(cfg.max_rotation_deg) * (1 - 0.75 * is_bg)
    rot = (2 * _rand(gen, n, n_layers, device=device) - 1) * rot_limit
    scale = 1 + (2 * _rand(gen, n, n_layers, device=device) - 1) * cfg.max_scale_change * (1 - 0.75 * is_bg)
    static = (_rand(gen, n, device=device) < cfg.static_fraction).view(n, 1)
    shift = torch.where(static.unsqueeze(-1), 0.0, shift)
    rot = torch.where(static, 0.0, rot)
    scale = torch.where(static, 1.0, scale)
    motion = _affine(rot, scale, scale)  # N x L x 2 x 2
    lin2 = motion @ lin1
    centre2 = centre1 + shift

    img, top = {}, torch.zeros(n, h, w, dtype=torch.long, device=device)  # top: 0 = background
    obj_tex = obj_tex.view(n, k, *obj_tex.shape[1:])
    for frame, (lin, centre) in enumerate([(lin1, centre1), (lin2, centre2)]):
        img[frame] = _sample_layer(bg_tex, lin[:, 0], centre[:, 0], (h, w), "reflection")
        _paint_objects(img[frame], obj_tex, lin[:, 1:], centre[:, 1:], active, top if frame == 0 else None)

    # a layer moves p to centre + shift + motion @ (p - centre): flow = (motion - I) @ p + offset
    eye = torch.eye(2, device=device)
    offset = shift + ((eye - motion) @ centre1.unsqueeze(-1)).squeeze(-1)
    params = torch.cat([(motion - eye).flatten(2), offset], -1)  # N x L x 6
    per_pixel = torch.gather(params, 1, top.view(n, -1, 1).expand(-1, -1, 6)).view(n, h, w, 6)
    ys, xs = torch.meshgrid(torch.arange(h, device=device) + 0.5, torch.arange(w, device=device) + 0.5, indexing="ij")
    flow = torch.stack([per_pixel[..., 0] * xs + per_pixel[..., 1] * ys + per_pixel[..., 4],
                        per_pixel[..., 2] * xs + per_pixel[..., 3] * ys + per_pixel[..., 5]], 1)

    img1, img2 = photometric_change(gen, img[0], img[1], device)
    return {
        "img1": img1,
        "img2": img2,
        "flow": flow,
        "valid": torch.ones(n, h, w, dtype=torch.bool, device=device),
    }


def photometric_change(gen: torch.Generator, img1: torch.Tensor, img2: torch.Tensor, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Global brightness/contrast/gamma shift of the second frame, sensor noise on both, sometimes a slight blur."""
    n = img1.shape[0]
    gain = _uniform(gen, 0.92, 1.08, n, 1, 1, 1, device=device)
    bias = _uniform(gen, -0.04, 0.04, n, 1, 1, 1, device=device)
    gamma = _uniform(gen, 0.9, 1.1, n, 1, 1, 1, device=device)
    img2 = (img2.clamp(1e-4, 1) ** gamma) * gain + bias
    sigma = _uniform(gen, 0, 0.02, n, 1, 1, 1, device=device)
    img1 = img1 + sigma * torch.randn(img1.shape, generator=gen, device=device)
    img2 = img2 + sigma * torch.randn(img2.shape, generator=gen, device=device)
    blur = torch.nonzero(_rand(gen, n, device=device) < 0.2).squeeze(1)
    if blur.numel():
        img2 = img2.clone()
        img2[blur] = F.avg_pool2d(F.pad(img2[blur], (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return img1.clamp(0, 1), img2.clamp(0, 1)
