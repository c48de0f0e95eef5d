"""Shared test helpers: comparing observations and infos, random action sequences, reference frames."""
import os

import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "data")


def assert_same(a, b, path="value"):
    """Deep equality of observations / infos (dicts, arrays, scalars), with a readable path."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{path}: {type(a)} of {len(a)} != {type(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert a.shape == b.shape, path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape and np.array_equal(a, b), f"{path}: arrays differ"
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def random_actions(space, count, seed):
    space.seed(seed)
    return [space.sample() for _ in range(count)]


def ref_image(name):
    """An image of tests/data (frames of the original memory-gym 1.0.2, see tests/data/README.md) in
    [y][x] layout."""
    from memory_gym_envs.sprites import _pygame

    return _pygame().surfarray.array3d(_pygame().image.load(os.path.join(DATA, name))).transpose(1, 0, 2)


def ref_frames(name):
    """The 84x84 frames of a reference strip: 4x upscaled, separated by 4-px bars."""
    img = ref_image(name)
    count = (img.shape[1] + 4) // 340
    return [img[1:336:4, i * 340 + 1:i * 340 + 336:4] for i in range(count)]
