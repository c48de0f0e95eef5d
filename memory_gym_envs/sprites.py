"""Precomputed sprites and the NumPy blit that stamps them into a batch of frames.

The original draws every frame with pygame. We rasterise each shape once with pygame (so the
pixels are exactly the original's: same circle and line algorithms) and keep the result as a list
of opaque pixels. Stepping never touches pygame: the tasks' compiled draw kernels call ``blit``,
which writes those pixels into a frame.

Why compiled: a NumPy scatter of the agent sprite into 64 frames alone took ~230 us per batch
(fancy assignment of ~25k elements) against a budget of ~490 us for the whole 64-env step, so the
draw (and step) loops are numba kernels, one code path for one env and for a batch.

A ``Sprite`` holds V variants (e.g. the 8 agent rotations) as arrays of K pixel offsets from an
anchor and their colours; shorter variants are padded by repeating their first pixel (writing the
same colour twice is harmless), so every variant has the same K and a batch of envs showing
different variants is still one scatter.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from numba import njit

SCREEN = 84

AGENT_BODY = (250, 204, 153)
AGENT_HANDS = (50, 50, 50)
WHITE = (255, 255, 255)
_KEY = (1, 2, 3)  # colour key of the scratch surfaces (used by no shape)


@dataclass(frozen=True)
class Sprite:
    dy: np.ndarray  # (V, K) int64 row offsets from the anchor
    dx: np.ndarray  # (V, K) int64 column offsets from the anchor
    rgb: np.ndarray  # (V, K, 3) uint8 colours

    @staticmethod
    def from_images(images: list[np.ndarray], anchor: tuple[int, int]) -> "Sprite":
        """Build from RGB images in [y][x] layout whose transparent pixels are ``_KEY``."""
        pixels = []
        for img in images:
            ys, xs = np.nonzero(np.any(img != np.array(_KEY, np.uint8), axis=-1))
            pixels.append((ys - anchor[1], xs - anchor[0], img[ys, xs]))
        return Sprite._stack(pixels)

    @staticmethod
    def _stack(pixels: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> "Sprite":
        k = max(len(p[0]) for p in pixels)
        pad = lambda a: np.concatenate([a, np.repeat(a[:1], k - len(a), axis=0)])  # noqa: E731
        return Sprite(dy=np.stack([pad(p[0]) for p in pixels]).astype(np.int64),
                      dx=np.stack([pad(p[1]) for p in pixels]).astype(np.int64),
                      rgb=np.stack([pad(p[2]) for p in pixels]).astype(np.uint8))

    @staticmethod
    def concat(sprites: list["Sprite"]) -> "Sprite":
        """One sprite whose variants are those of ``sprites`` in order (re-padded to one K)."""
        return Sprite._stack([(s.dy[v], s.dx[v], s.rgb[v]) for s in sprites for v in range(len(s.dy))])


# The small drawing helpers below are called with many constant arguments (a variant 0, a tile size, a colour).
# numba would compile a helper once more for each literal value it is called with (docs/design.md); with one
# signature given, it compiles it once (at import, then from the cache) and converts the arguments to it.
_FRAME = "uint8[:, :, ::1]"


@njit(f"void({_FRAME}, int64[:, ::1], int64[:, ::1], uint8[:, :, ::1], int64, int64, int64)", cache=True)
def blit(frame: np.ndarray, sprite_dy: np.ndarray, sprite_dx: np.ndarray, sprite_rgb: np.ndarray,
         variant: int, x: int, y: int) -> None:
    """Draw one variant of a sprite anchored at (x, y) into an (H, W, 3) frame, clipped."""
    h, w = frame.shape[0], frame.shape[1]
    for k in range(sprite_dy.shape[1]):
        py, px = y + sprite_dy[variant, k], x + sprite_dx[variant, k]
        if 0 <= py < h and 0 <= px < w:
            frame[py, px, 0] = sprite_rgb[variant, k, 0]
            frame[py, px, 1] = sprite_rgb[variant, k, 1]
            frame[py, px, 2] = sprite_rgb[variant, k, 2]


@njit(cache=True)
def copy_image(dst: np.ndarray, src: np.ndarray) -> None:
    """dst[:] = src for two flat (1-d, C-contiguous) images of one size: an explicit loop, which numba
    compiles to a block copy (~20x faster than its n-d slice assignment). Flat, because reshaping here
    would call numba's runtime, and a kernel that calls another function counts the references to its
    array arguments on entry and exit (an atomic operation each; docs/design.md)."""
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@njit(cache=True)
def copy_rect(dst: np.ndarray, src: np.ndarray, x: int, y: int, w: int, h: int) -> None:
    """Copy the w x h rectangle at (x, y) from image ``src`` to image ``dst``."""
    for py in range(y, y + h):
        for px in range(x, x + w):
            for c in range(3):
                dst[py, px, c] = src[py, px, c]


@njit(f"void({_FRAME}, int64, int64, int64, int64, int64, int64, int64)", cache=True)
def fill_rect(dst: np.ndarray, x: int, y: int, w: int, h: int, r: int, g: int, b: int) -> None:
    """Fill the w x h rectangle at (x, y) of image ``dst`` with colour (r, g, b), clipped."""
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, dst.shape[1]), min(y + h, dst.shape[0])
    for py in range(y0, y1):
        for px in range(x0, x1):
            dst[py, px, 0] = r
            dst[py, px, 1] = g
            dst[py, px, 2] = b


# --- rasterisation with pygame (runs once per shape, cached) -------------------------------------

def _pygame():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def scratch_surface(size: tuple[int, int]):
    """A pygame surface filled with the colour key (transparent), to draw one shape on."""
    pygame = _pygame()
    surf = pygame.Surface(size)
    surf.fill(_KEY)
    surf.set_colorkey(_KEY)
    return surf


def surface_image(surf) -> np.ndarray:
    """The surface as an RGB image in [y][x] layout (for ``Sprite.from_images``)."""
    return _pygame().surfarray.array3d(surf).transpose(1, 0, 2).copy()


def agent_shape(scale: float) -> tuple[int, int, int]:
    """What the agent sprite of ``scale`` is a function of: (body radius, int(10 * scale), hand
    offset) in px. Sprites are cached by it rather than by the float scale, which may take a new
    value every episode; the scales in [0.1, 1.0] give 41 shapes."""
    return int(25 * scale), int(10 * scale), int(16 * scale)


def agent_sprite(scale: float = 0.25) -> Sprite:
    """The agent: a peach disc with two dark hands, 8 variants (rotation = 45 degrees * variant).

    Variant 0 faces up, 2 left, 4 down, 6 right (counter-clockwise on screen). The body is the
    same disc for every rotation; only the hands move (the original draws each rotation afresh
    rather than rotating an image). Radius ``int(25 * scale)`` (6 at the default 0.25), hands of
    radius ``int(10 * scale)`` at (-4, -4) and (+4, -4) from the centre for rotation 0 (the hand
    offset ``int(16 * scale)`` is our generalisation to other scales). Anchor: the body centre.
    """
    return _agent_sprite(*agent_shape(scale))


@functools.lru_cache(maxsize=64)  # (every shape of a legal scale, see agent_shape)
def _agent_sprite(radius: int, hand: int, offset: int) -> Sprite:
    pygame = _pygame()
    hand_radius = max(1, hand)
    size = 2 * radius + hand + 14
    centre = size // 2
    images = []
    for variant in range(8):
        surf = scratch_surface((size, size))
        pygame.draw.circle(surf, AGENT_BODY, (centre, centre), radius)
        for at in ((-offset, -offset), (offset, -offset)):
            p = pygame.math.Vector2(at).rotate(-45 * variant)
            pygame.draw.circle(surf, AGENT_HANDS, (centre + p.x, centre + p.y), hand_radius)
        images.append(surface_image(surf))
    return Sprite.from_images(images, anchor=(centre, centre))


# Mortar Mayhem command symbols: angle of the rotated arrow, None for the "stay" theta.
SYMBOL_ANGLES = {"right": 0, "down": 270, "left": 180, "up": 90, "stay": None,
                 "right_down": 315, "right_up": 45, "left_down": 225, "left_up": 135}


@functools.lru_cache(maxsize=8)
def command_symbols(names: tuple[str, ...]) -> Sprite:
    """White command symbols, one variant per name; anchor = the blit's top-left corner.

    An arrow is drawn pointing right on a 22x22 surface (shaft and two head strokes, width 2) and
    rotated with ``pygame.transform.rotate``; diagonal rotations grow the surface to 31x31 but keep
    the same top-left, so diagonal arrows sit off-centre, as in the original.
    """
    pygame = _pygame()
    images = []
    for name in names:
        surf = scratch_surface((22, 22))
        if SYMBOL_ANGLES[name] is None:
            pygame.draw.circle(surf, WHITE, (10, 10), 10, 2)
            pygame.draw.line(surf, WHITE, (0, 9), (19, 9), 2)
        else:
            pygame.draw.line(surf, WHITE, (0.5, 10), (20, 10), 2)
            pygame.draw.line(surf, WHITE, (20, 10), (10, 0), 2)
            pygame.draw.line(surf, WHITE, (20, 10), (10, 20), 2)
            surf = pygame.transform.rotate(surf, SYMBOL_ANGLES[name])
        images.append(surface_image(surf))
    return Sprite.from_images(images, anchor=(0, 0))


@functools.lru_cache(maxsize=128)
def ring(radius: int, width: int, colour: tuple[int, int, int]) -> Sprite:
    """A circle outline (debug views), anchored at its centre."""
    pygame = _pygame()
    size = 2 * radius + 4
    surf = scratch_surface((size, size))
    pygame.draw.circle(surf, colour, (size // 2, size // 2), radius, width)
    return Sprite.from_images([surface_image(surf)], anchor=(size // 2, size // 2))


def upscale(frame: np.ndarray, factor: int = 4) -> np.ndarray:
    """Nearest-neighbour upscaling of an [y][x][c] frame (the 336x336 debug and human views)."""
    return np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1)


class SpriteBank:
    """Sprites of several shapes or sizes in one table, so a kernel takes one set of arrays:
    ``index(key, make)`` returns the first variant of the sprite ``make()`` builds for ``key``,
    building it once. (Every variant is padded to the longest one: keep huge shapes apart.)
    Entries are never dropped (env states hold their indices), so keys must come from a small set,
    such as integer radii, never from a float parameter that can differ every episode."""

    def __init__(self):
        self.keys: dict = {}
        self.parts: list[Sprite] = []
        self.table: Sprite | None = None

    def index(self, key, make) -> int:
        if key not in self.keys:
            self.keys[key] = sum(len(p.dy) for p in self.parts)
            self.parts.append(make())
            self.table = Sprite.concat(self.parts)
        return self.keys[key]


class AgentSprites(SpriteBank):
    """The agent sprites of every ``agent_scale`` in use, as one table: variant = base + facing."""

    def __init__(self):
        super().__init__()
        self.base(0.25)

    def base(self, scale: float) -> int:
        return self.index(agent_shape(scale), lambda: agent_sprite(scale))


class ImageBank:
    """Precomputed full-screen images (backgrounds), stacked in one array; ``index(key, make)``
    returns the position of the images ``make()`` builds for ``key``, building them once (keys
    from a small set, as for ``SpriteBank``)."""

    def __init__(self, shape=(SCREEN, SCREEN, 3)):
        self.keys: dict = {}
        self.images = np.zeros((0,) + shape, np.uint8)

    def index(self, key, make) -> int:
        if key not in self.keys:
            self.keys[key] = len(self.images)
            made = np.asarray(make(), np.uint8).reshape((-1,) + self.images.shape[1:])
            self.images = np.ascontiguousarray(np.concatenate([self.images, made]))  # (the kernels take C arrays)
        return self.keys[key]
