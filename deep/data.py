"""Data with known generative factors, and the batch stream that feeds the training loop.

Every data set is a :class:`FactorData`: ``len(data)`` observations, each with its factor
classes (integer grid indices) and factor values, rendered or read on demand as float32
arrays in [0, 1] (images as N x C x 64 x 64, vectors as N x D). At 64 px nothing holds a
whole procedural data set in memory: an index is decoded into its factors and rendered.

Image size. The image sets take ``size`` (64 by default; 32, 16 or 8: the reduced-size
protocol of issue 19). The image at ``size = 64 / f`` is the mean of the f x f blocks of
the 64 x 64 image (:func:`downsample`: area averaging, the render at the lower resolution
with f x f supersampling, a pure function of the 64-px image, so the data set stays the
same data set); point sampling on the coarser grid would alias (dSprites' adjacent
positions are 32/31 px apart at 64 px, 0.26 px at 16 px). :class:`Downsampled` renders
the set once and holds it: exact uint8 counts (k of f^2) for a binary source such as
dSprites (5 grey levels at 32 px, 17 at 16 px; the Bernoulli likelihood takes them as soft
targets), float32 otherwise. Full dSprites: 189 MB at 16 px, 755 MB at 32 px.

- :class:`DSprites`: procedural dSprites [dsprites]: a square, an ellipse and a heart,
  6 scales in [0.5, 1], 40 orientations in [0, 2 pi), 32 x 32 positions in [0, 1]^2
  (737,280 binary 64 x 64 images), in the factor order and index layout of the real file.
- :class:`Shapes3D`: a procedural scene with the factors of Shapes3D [shapes3d]: floor,
  wall and object hue (10 each), scale (8), shape (4), orientation (15); RGB 64 x 64
  (480,000 images).
- :class:`DSpritesNpz`, :class:`Shapes3DH5`: the real files, for users who have them.
- :class:`Digits`: scikit-learn's bundled 8 x 8 digits (64-vectors; factor: the digit),
  optionally binarised and split into train / test.
- :class:`GaussianMixture`: samples of a Gaussian mixture in R^d (factor: the component),
  the synthetic data of [lambda_vae] §6.1.
- :class:`LinearMixture`: x = A s + eta of [optimal_beta] eq. (17), e.g. with the digit
  images of :func:`digit_mixing` as the columns of A (§V); :class:`DigitCanvas`: one
  digit on a blank canvas at the position x = A s + eta (App. C, Fig. 3).
- :class:`ArrayData`: any in-memory arrays.

:func:`batch_loader` streams batch ``t`` as a pure function of ``(seed, t)``, so a resumed
run sees exactly the batches an uninterrupted one would, whatever the number of workers.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt, §5.2.
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt, §6.1.
[optimal_beta] "β-VAE with a finite optimal β", shared/papers/003_a1eafab620a812b7.txt,
    eq. (17), §V and App. C.
[burda2015] Y. Burda et al., Importance weighted autoencoders (2015): stochastic binarisation.
[dsprites] L. Matthey et al., dSprites (2017), github.com/deepmind/dsprites-dataset:
    ``imgs`` (N, 64, 64) uint8, ``latents_classes`` / ``latents_values`` (N, 6) with the
    factors (color, shape, scale, orientation, posX, posY).
[shapes3d] C. Burgess, H. Kim, 3D Shapes (2018), github.com/deepmind/3dshapes-dataset:
    ``images`` (N, 64, 64, 3) uint8, ``labels`` (N, 6) float with the factors
    (floor_hue, wall_hue, object_hue, scale, shape, orientation).
"""
from __future__ import annotations

import json
from dataclasses import field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from matplotlib.colors import hsv_to_rgb

from deep.config import UserError, as_dict, check, from_signature, strict_choice
from numerics import validation

SIZE = 64
SIZES = (64, 32, 16, 8)
"""Image sizes of the image sets: 64 / 2^k down to 8 px (the scaled Table-1 network's smallest input)."""
_CENTRES = np.arange(SIZE, dtype=np.float32) + 0.5  # pixel centres, in pixels


class FactorData:
    """Observations with known generative factors.

    Subclasses set ``name``, ``factor_names``, ``discrete`` (which factors are
    categorical: SAP uses a classifier for those and the squared correlation otherwise)
    and ``shape`` (of one observation), and implement ``__len__``, ``factor_classes``,
    ``factor_values`` and ``observations``, each taking an integer index array.
    """

    name: str
    factor_names: tuple[str, ...]
    discrete: tuple[bool, ...]
    shape: tuple[int, ...]

    def __len__(self) -> int:
        raise NotImplementedError

    def factor_classes(self, index) -> np.ndarray:
        """Integer factor classes, shape (N, K)."""
        raise NotImplementedError

    def factor_values(self, index) -> np.ndarray:
        """Factor values (float64), shape (N, K)."""
        raise NotImplementedError

    def observations(self, index) -> np.ndarray:
        """float32 observations in [0, 1], shape (N, *shape)."""
        raise NotImplementedError

    def _index(self, index) -> np.ndarray:
        idx = np.asarray(index)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"index must be a 1-D integer array; got {idx.dtype} of shape {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"index must lie in [0, {len(self)}); got values in [{idx.min()}, {idx.max()}]")
        return idx.astype(np.int64)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` indices drawn uniformly with replacement, reproducibly from ``seed``."""
        n = validation.positive_int("n", n)
        return np.random.default_rng(seed).integers(0, len(self), n)


class GridData(FactorData):
    """A full factorial grid of factors, indexed like the real files (last factor fastest)."""

    factor_sizes: tuple[int, ...]
    _values: tuple[np.ndarray, ...]  # one table of values per factor

    def __len__(self) -> int:
        return int(np.prod(self.factor_sizes))

    def factor_classes(self, index) -> np.ndarray:
        return np.stack(np.unravel_index(self._index(index), self.factor_sizes), axis=1)

    def factor_values(self, index) -> np.ndarray:
        classes = self.factor_classes(index)
        return np.stack([table[c] for table, c in zip(self._values, classes.T)], axis=1)

    def index_of(self, classes) -> np.ndarray:
        """The index of each row of factor classes (the inverse of :meth:`factor_classes`)."""
        classes = np.asarray(classes)
        return np.ravel_multi_index(tuple(classes.T), self.factor_sizes)

    def observations(self, index) -> np.ndarray:
        return self._render(self.factor_values(index))


class DSprites(GridData):
    """Procedural dSprites: 64 x 64 binary images of one shape, rendered exactly on demand.

    A pixel is on when its centre lies inside the shape. The shape's frame is centred at
    pixel coordinates (16 + 32 posX, 16 + 32 posY) (posX along columns, posY along rows),
    rotated by the orientation and scaled by ``scale * 10`` pixels: the square is
    [-1, 1]^2 in that frame, the ellipse has semi-axes 1 and 1/2, the heart is the curve
    (x^2 + y^2 - 1)^3 <= x^2 y^3. Adjacent positions differ by 32/31 pixels.

    >>> data = DSprites()
    >>> len(data), data.observations([0]).shape
    (737280, (1, 1, 64, 64))
    """

    name = "dsprites"
    factor_names = ("shape", "scale", "orientation", "posX", "posY")
    factor_sizes = (3, 6, 40, 32, 32)
    discrete = (True, False, False, False, False)
    shape = (1, SIZE, SIZE)
    shapes = ("square", "ellipse", "heart")
    _values = (np.array([1.0, 2.0, 3.0]),  # the real file's shape values
               np.linspace(0.5, 1.0, 6),
               2 * np.pi * np.arange(40) / 40,
               np.linspace(0.0, 1.0, 32),
               np.linspace(0.0, 1.0, 32))
    radius = 10.0  # pixels at scale 1

    def centre(self, values) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (column, row) of the shape's centre for factor values (N, 5)."""
        values = np.asarray(values)
        return 16 + 32 * values[:, 3], 16 + 32 * values[:, 4]

    def _render(self, values) -> np.ndarray:
        col, row = self.centre(values)
        theta, size = values[:, 2], self.radius * values[:, 1]
        c = (np.cos(theta) / size).astype(np.float32)[:, None, None]
        s = (np.sin(theta) / size).astype(np.float32)[:, None, None]
        dx = _CENTRES[None, None, :] - col.astype(np.float32)[:, None, None]
        dy = _CENTRES[None, :, None] - row.astype(np.float32)[:, None, None]
        out = np.zeros((len(values), SIZE, SIZE), np.float32)
        for shape, inside in zip((1.0, 2.0, 3.0), (_square, _ellipse, _heart)):
            sel = values[:, 0] == shape
            if sel.any():  # rotate by -theta into the shape's frame
                out[sel] = inside(c[sel] * dx[sel] + s[sel] * dy[sel], c[sel] * dy[sel] - s[sel] * dx[sel])
        return out[:, None]


def _square(u, v):
    return (np.abs(u) <= 1) & (np.abs(v) <= 1)


def _ellipse(u, v):
    return u * u + 4 * v * v <= 1


def _heart(u, v):
    x, y = 1.2 * u, 0.12 - 1.2 * v  # y points up; roughly centred on the frame's origin
    r = x * x + y * y - 1
    return r * r * r <= x * x * y * y * y


class Shapes3D(GridData):
    """A procedural scene with the factors of Shapes3D, rendered exactly on demand.

    Wall above row 40, floor below, an object centred at pixel (32, 44). Colours are
    HSV with saturation 1: the wall has the wall hue (value 0.8 left of the room's corner,
    1.0 right of it), the floor the floor hue (value rising from 0.6 at the horizon to 1.0
    at the bottom), the object the object hue (value from 0.55 at its rim to 1.0 at its
    centre line). The orientation is the camera's azimuth: it moves the room's corner to
    column 32 - 16 (orientation / 30 degrees) and turns the cube (whose front and side
    faces have values 1.0 and 0.65). Scale sets the object's half-height, 15 * scale pixels
    (one scale step grows it by more than a pixel, so every step changes the image).
    """

    name = "shapes3d"
    factor_names = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    factor_sizes = (10, 10, 10, 8, 4, 15)
    discrete = (False, False, False, False, True, False)
    shape = (3, SIZE, SIZE)
    shapes = ("cube", "cylinder", "sphere", "capsule")
    _values = (np.linspace(0.0, 0.9, 10), np.linspace(0.0, 0.9, 10), np.linspace(0.0, 0.9, 10),
               np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30.0, 30.0, 15))
    horizon, object_centre, half_height = 40.0, (32.0, 44.0), 15.0

    def corner(self, values) -> np.ndarray:
        """Column of the room's corner for factor values (N, 6)."""
        return 32 - 16 * np.asarray(values)[:, 5] / 30

    def _render(self, values) -> np.ndarray:
        X, Y = _CENTRES[None, None, :], _CENTRES[None, :, None]
        # with saturation 1, hsv_to_rgb(h, 1, v) = v hsv_to_rgb(h, 1, 1): colour each region, scale by value
        base = hsv_to_rgb(np.stack([values[:, :3], np.ones((len(values), 3)), np.ones((len(values), 3))], -1))
        floor, wall, obj = (base[:, k, :, None, None].astype(np.float32) for k in range(3))  # (N, 3, 1, 1)
        is_wall = Y < self.horizon
        value = np.where(is_wall, np.where(X < self.corner(values)[:, None, None], 0.8, 1.0),
                         0.6 + 0.4 * (Y - self.horizon) / (SIZE - self.horizon)).astype(np.float32)
        inside, shade = self._object(values)
        value = np.where(inside, shade, value)[:, None]
        colour = np.where(inside[:, None], obj, np.where(is_wall, wall, floor))
        return value * colour

    def _object(self, values) -> tuple[np.ndarray, np.ndarray]:
        """The object's mask and HSV value, each (N, 64, 64)."""
        h = (self.half_height * values[:, 3]).astype(np.float32)[:, None, None]
        phi = np.deg2rad(values[:, 5]).astype(np.float32)[:, None, None]
        u = (_CENTRES - self.object_centre[0])[None, None, :]
        v = (_CENTRES - self.object_centre[1])[None, :, None]
        inside = np.zeros((len(values), SIZE, SIZE), bool)
        shade = np.zeros((len(values), SIZE, SIZE), np.float32)
        for shape, draw in enumerate((_cube, _cylinder, _sphere, _capsule)):
            sel = values[:, 4] == shape
            if sel.any():
                inside[sel], shade[sel] = draw(u, v, h[sel], phi[sel])
        return inside, shade


def _rim(u, half_width):
    """HSV value across a round body: 0.55 at its rim, 1.0 on its centre line."""
    return 0.55 + 0.45 * np.sqrt(np.clip(1 - (u / half_width) ** 2, 0, 1))


def _cube(u, v, h, phi):
    """A cube of side 2h turned by phi about the vertical axis, seen from the front (side face darker)."""
    c, s = np.cos(phi), np.sin(phi)
    front = (u >= h * (s - c)) & (u <= h * (s + c))
    return (np.abs(u) <= h * (c + np.abs(s))) & (np.abs(v) <= h), np.where(front, 1.0, 0.65)


def _cylinder(u, v, h, phi):
    return (np.abs(u) <= 0.85 * h) & (np.abs(v) <= h), _rim(u, 0.85 * h)


def _sphere(u, v, h, phi):
    r2 = u * u + v * v
    return r2 <= h * h, 0.55 + 0.45 * np.sqrt(np.clip(1 - r2 / (h * h), 0, 1))


def _capsule(u, v, h, phi):
    w = 0.55 * h
    body = np.abs(v) <= h - w
    caps = u * u + (np.abs(v) - (h - w)) ** 2 <= w * w
    return (np.abs(u) <= w) & (body | caps), _rim(u, w)


class TableData(FactorData):
    """Factors held as arrays: ``_classes`` (N, K) integers and ``_values`` (N, K) floats."""

    _classes: np.ndarray
    _values: np.ndarray

    def __len__(self) -> int:
        return len(self._classes)

    def factor_classes(self, index) -> np.ndarray:
        return self._classes[self._index(index)]

    def factor_values(self, index) -> np.ndarray:
        return self._values[self._index(index)]


class DSpritesNpz(TableData):
    """The real dSprites ``.npz`` [dsprites] (the constant colour factor is dropped).

    The images are decompressed into memory (737,280 x 64 x 64 bytes for the full file).
    """

    name = "dsprites-npz"
    factor_names = DSprites.factor_names
    discrete = DSprites.discrete
    shape = (1, SIZE, SIZE)

    def __init__(self, path):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"path must be an existing dSprites .npz file; {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as f:
                missing = {"imgs", "latents_classes", "latents_values"} - set(f.files)
                if missing:
                    raise UserError(f"{path} is not a dSprites .npz: missing {sorted(missing)}")
                self._imgs = f["imgs"]
                self._classes = f["latents_classes"][:, 1:].astype(np.int64)
                self._values = f["latents_values"][:, 1:].astype(np.float64)
        except UserError:
            raise
        except Exception as err:  # noqa: BLE001 - numpy/zipfile raise many types for a damaged file
            raise UserError(f"{path} is not a readable dSprites .npz ({type(err).__name__}: {err})") from None
        if self._imgs.shape[1:] != (SIZE, SIZE) or self._classes.shape != (len(self._imgs), 5):
            raise UserError(f"{path}: imgs must be (N, 64, 64) and latents (N, 6); got "
                             f"{self._imgs.shape} and {self._classes.shape[0]} x {self._classes.shape[1] + 1}")

    def observations(self, index) -> np.ndarray:
        return self._imgs[self._index(index)][:, None].astype(np.float32)


class Shapes3DH5(TableData):
    """The real Shapes3D ``.h5`` [shapes3d], read lazily (the file holds 5.9 GB of images).

    Factor classes are the ranks of the label values in each column. The file is opened
    on first use in each process, so the object can be sent to loader worker processes.
    """

    name = "shapes3d-h5"
    factor_names = Shapes3D.factor_names
    discrete = Shapes3D.discrete
    shape = (3, SIZE, SIZE)

    def __init__(self, path):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"path must be an existing Shapes3D .h5 file; {self.path} does not exist")
        try:
            with h5py.File(self.path, "r") as f:
                missing = {"images", "labels"} - set(f.keys())
                if missing:
                    raise UserError(f"{self.path} is not a Shapes3D .h5: missing {sorted(missing)}")
                self._values = f["labels"][()].astype(np.float64)
                n_images = f["images"].shape
        except UserError:
            raise
        except Exception as err:  # noqa: BLE001 - h5py raises OSError, KeyError, ... for a damaged file
            raise UserError(f"{self.path} is not a readable Shapes3D .h5 ({type(err).__name__}: {err})") from None
        if n_images[1:] != (SIZE, SIZE, 3) or self._values.shape != (n_images[0], 6):
            raise UserError(f"{self.path}: images must be (N, 64, 64, 3) and labels (N, 6); "
                             f"got {n_images} and {self._values.shape}")
        self._classes = np.stack([np.unique(col, return_inverse=True)[1] for col in self._values.T], axis=1)
        self._file = None

    def __getstate__(self):
        return {**self.__dict__, "_file": None}

    def observations(self, index) -> np.ndarray:
        import h5py

        idx = self._index(index)
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        unique, inverse = np.unique(idx, return_inverse=True)  # h5py reads increasing indices
        images = self._file["images"][unique][inverse]
        return np.moveaxis(images, -1, 1).astype(np.float32) / 255


class ArrayData(TableData):
    """In-memory observations ``x`` (N, ...) with integer factor classes (N, K).

    ``values`` defaults to the classes; ``discrete`` to all-categorical.
    """

    def __init__(self, x, classes, *, names=None, values=None, discrete=None, name="array"):
        self._x = np.asarray(x, dtype=np.float32)
        self._classes = np.asarray(classes)
        if self._classes.ndim == 1:
            self._classes = self._classes[:, None]
        if not np.issubdtype(self._classes.dtype, np.integer) or len(self._classes) != len(self._x):
            raise ValueError("classes must be an integer array with one row per observation; "
                             f"got {self._classes.dtype} of shape {self._classes.shape} for {len(self._x)} observations")
        self._values = self._classes.astype(float) if values is None else np.asarray(values, dtype=float)
        k = self._classes.shape[1]
        self.factor_names = tuple(names or (f"v{j}" for j in range(k)))
        self.discrete = tuple(discrete if discrete is not None else [True] * k)
        self.shape = self._x.shape[1:]
        self.name = name

    def observations(self, index) -> np.ndarray:
        return self._x[self._index(index)]


class Digits(ArrayData):
    """scikit-learn's bundled 8 x 8 digits as 64-vectors in [0, 1]; the factor is the digit.

    Parameters
    ----------
    binarize : None, "stochastic" or "threshold"
        None keeps the grey levels (k / 16). "stochastic" draws each pixel once as a
        Bernoulli variable with the grey level as probability ([burda2015]'s binarisation,
        fixed by ``seed`` so that batch t stays a pure function of (seed, t));
        "threshold" sets pixels above 1/2 to 1.
    split : None, "train" or "test"
        None: all 1797 images. Otherwise a fixed random permutation (from ``seed``) holds
        the last ``test_size`` images out as the test set.
    test_size : int
        Images in the test split (360, a fifth).
    seed : int
        The binarisation draw and the split.
    """

    def __init__(self, binarize: str | None = None, split: str | None = None, test_size: int = 360,
                 seed: int = 0):
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, target = digits.data / 16.0, digits.target
        rng = np.random.default_rng(seed)
        if binarize == "stochastic":
            x = (rng.random(x.shape) < x).astype(float)
        elif binarize == "threshold":
            x = (x > 0.5).astype(float)
        elif binarize is not None:
            raise ValueError(f"binarize must be None, 'stochastic' or 'threshold'; got {binarize!r}")
        if split is not None:
            test_size = validation.positive_int("test_size", test_size)
            if split not in ("train", "test") or test_size >= len(x):
                raise ValueError(f"split must be 'train' or 'test' with test_size < {len(x)}; "
                                 f"got {split!r}, {test_size}")
            order = np.random.default_rng([seed, 1]).permutation(len(x))
            keep = np.sort(order[-test_size:] if split == "test" else order[:-test_size])
            x, target = x[keep], target[keep]
        super().__init__(x, target, names=("digit",), discrete=(True,), name="digits")


class GaussianMixture(ArrayData):
    """``n`` samples of a Gaussian mixture with equally weighted components; the factor is the component.

    Component j is N(means[j], diag(stds[j]^2)), so clusters may be stretched along an
    axis (Fig. 3 of [lambda_vae]: k = 2 "clusters stretched along one axis", k = 4 "equal
    inter-cluster separation along each axis"; §6.1 writes each component as
    N(mu_k, sigma_k I), which cannot stretch). Observations are not confined to [0, 1]:
    use a Gaussian likelihood.

    Parameters
    ----------
    means : array (k, d)
        Component means (default: the corners (+-2, +-2), the k = 4 setting of §6.2).
    stds : array (k, d) or (d,)
        Per-axis standard deviations of each component (> 0; default 0.5).
    n : int
        Number of samples (drawn once from ``seed``; component j for sample i is i mod k,
        so the components are exactly balanced).
    seed : int
    """

    def __init__(self, means=((-2.0, -2.0), (-2.0, 2.0), (2.0, -2.0), (2.0, 2.0)), stds=(0.5, 0.5),
                 n: int = 10_000, seed: int = 0):
        means = validation.finite_array("means", means, ndim=2)
        stds = validation.array_in("stds", np.broadcast_to(stds, means.shape), 0.0)
        n = validation.positive_int("n", n)
        component = np.arange(n) % len(means)
        x = means[component] + stds[component] * np.random.default_rng(seed).standard_normal((n, means.shape[1]))
        super().__init__(x, component, names=("component",), discrete=(True,), name="mixture")


def digit_mixing(k: int = 10) -> np.ndarray:
    """The 64 x k mixing matrix A whose column j is the first image of digit j in
    scikit-learn's 8 x 8 digits, in [0, 1]: §V of [optimal_beta] mixes 10 digit images.

    >>> digit_mixing(3).shape
    (64, 3)
    """
    k = validation.positive_int("k", k)
    if k > 10:
        raise ValueError(f"k must be at most 10 (one column per digit 0-9); got {k}")
    digits = Digits()
    first = [int(np.flatnonzero(digits._classes[:, 0] == j)[0]) for j in range(k)]
    return digits.observations(np.array(first)).T.astype(np.float64)


class LinearMixture(ArrayData):
    """``n`` draws of x = A s + eta, s ~ N(0, I_k), eta ~ N(0, I_N): eq. (17) of [optimal_beta].

    The factors are the sources s (``factor_values``; ``factor_classes`` are their deciles
    in the draw). ``seed`` fixes the draw; ``A`` (N x k, N >= k) is kept as ``self.A``.
    Observations are float32 and not confined to [0, 1]: use a Gaussian likelihood.
    """

    def __init__(self, A, n: int, seed: int = 0):
        from numerics.tractable_beta_vae import check_mixing

        self.A = check_mixing(A)
        n = validation.positive_int("n", n)
        N, k = self.A.shape
        rng = np.random.default_rng(seed)
        s = rng.standard_normal((n, k))
        x = s @ self.A.T + rng.standard_normal((n, N))
        super().__init__(x, _deciles(s), values=s, names=tuple(f"s{j + 1}" for j in range(k)),
                         discrete=(False,) * k, name="linear-mixture")

    def mixed(self, index) -> np.ndarray:
        """x = A s + eta behind each observation (here the observation itself), float64."""
        return self.observations(index).astype(np.float64)


def _deciles(values) -> np.ndarray:
    """Each column's decile (0-9) within the sample: integer classes for continuous factors."""
    return np.argsort(np.argsort(values, axis=0), axis=0) * 10 // len(values)


class DigitCanvas(TableData):
    """One 8 x 8 digit on a blank ``size`` x ``size`` canvas at a position x = A s + eta (N = k = 2).

    App. C, Fig. 3 of [optimal_beta]: "a single MNIST digit localized at different locations
    on a blank canvas ... The cartesian coordinate of the digit ... x, is determined by
    eq. (17)". The digit (the first image of ``digit`` in scikit-learn's 8 x 8 digits, in
    [0, 1]) has its top-left corner at ((size - 8)/2 + x_1, (size - 8)/2 + x_2) pixels
    (x_1 along columns, x_2 along rows), shifted by bilinear interpolation; what falls
    outside the canvas is cut off. ``n`` positions are drawn once from ``seed`` and the
    images rendered on demand as size^2-vectors. The factors are the sources s
    (values; classes: deciles); :meth:`mixed` gives the positions x.
    """

    digit_size = 8

    def __init__(self, A, n: int, seed: int = 0, *, size: int = 24, digit: int = 0):
        from numerics.tractable_beta_vae import check_mixing

        self.A = check_mixing(A)
        if self.A.shape != (2, 2):
            raise ValueError(f"A must be 2 x 2 (a position on the canvas); got {self.A.shape}")
        n = validation.positive_int("n", n)
        self.size = validation.positive_int("size", size, minimum=self.digit_size)
        self.image = digit_mixing(validation.positive_int("digit", digit, minimum=0) + 1)[:, -1].reshape(8, 8)
        rng = np.random.default_rng(seed)
        s = rng.standard_normal((n, 2))
        self._mixed = s @ self.A.T + rng.standard_normal((n, 2))
        self._values, self._classes = s, _deciles(s)
        self.name, self.factor_names, self.discrete = "digit-canvas", ("s1", "s2"), (False, False)
        self.shape = (self.size * self.size,)

    def mixed(self, index) -> np.ndarray:
        """The positions x = A s + eta (eq. 17) of the observations, shape (len(index), 2)."""
        return self._mixed[self._index(index)]

    def observations(self, index) -> np.ndarray:
        corner = (self.size - self.digit_size) / 2 + self.mixed(index)               # (n, 2): column, row
        pixels = np.arange(self.size)[None, :, None] - np.arange(self.digit_size)[None, None, :]
        # bilinear shift = a tent kernel along each axis: weight of digit pixel j at canvas pixel c
        cols, rows = (np.maximum(0, 1 - np.abs(pixels - corner[:, a, None, None])) for a in (0, 1))
        images = np.einsum("nri,ij,ncj->nrc", rows, self.image, cols)
        return images.reshape(len(corner), -1).astype(np.float32)


def _factor(size, name: str = "size") -> int:
    if isinstance(size, bool) or size not in SIZES:
        raise ValueError(f"{name} must be one of {', '.join(map(str, SIZES))}; got {size!r}")
    return SIZE // size


def downsample(images, size: int) -> np.ndarray:
    """Block means of (N, C, 64, 64) images: float32 (N, C, size, size), ``size`` = 64 / f (area averaging)."""
    f = _factor(size)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[2:] != (SIZE, SIZE):
        raise ValueError(f"images must be (N, C, 64, 64); got shape {images.shape}")
    n, c = images.shape[:2]
    return images.reshape(n, c, size, f, size, f).mean(axis=(3, 5), dtype=np.float64).astype(np.float32)


class Downsampled(FactorData):
    """The images of ``data`` (C x 64 x 64) at ``size`` px, rendered once and held in memory.

    Block means (:func:`downsample`) of the 64-px render, kept as exact uint8 counts of
    the f x f block (f = 64 / size) when every mean is such a multiple of 1/f^2 (a binary
    source: dSprites), as float32 otherwise (Shapes3D). Factors are ``data``'s.
    ``size = 64`` holds the 64-px images themselves (f = 1).
    """

    def __init__(self, data: FactorData, size: int, *, chunk: int = 4096):
        f = _factor(size)
        if len(data.shape) != 3 or tuple(data.shape[1:]) != (SIZE, SIZE):
            raise ValueError(f"data must hold C x 64 x 64 images to be downsampled; got shape {data.shape}")
        self.data, self.size = data, size
        self.name, self.factor_names, self.discrete = data.name, data.factor_names, data.discrete
        self.shape = (data.shape[0], size, size)
        n, cells = len(data), f * f
        counts = np.empty((n, *self.shape), np.uint8)
        exact = cells <= 255
        for start in range(0, n, chunk):
            block = downsample(data.observations(np.arange(start, min(n, start + chunk))), size) * cells
            k = np.rint(block)
            if not (exact and np.all(np.abs(block - k) < 1e-4)):
                exact = False
                break
            counts[start:start + len(block)] = k
        if exact:
            self._x, self._scale = counts, np.float32(cells)
        else:  # grey levels (Shapes3D): float32 block means
            self._x = np.concatenate([downsample(data.observations(np.arange(s, min(n, s + chunk))), size)
                                      for s in range(0, n, chunk)])
            self._scale = None

    @property
    def exact_counts(self) -> bool:
        """Whether the images are held as exact uint8 counts (a binary source)."""
        return self._x.dtype == np.uint8

    def __len__(self) -> int:
        return len(self.data)

    def factor_classes(self, index) -> np.ndarray:
        return self.data.factor_classes(self._index(index))

    def factor_values(self, index) -> np.ndarray:
        return self.data.factor_values(self._index(index))

    def observations(self, index) -> np.ndarray:
        x = self._x[self._index(index)]
        return x if self._scale is None else x.astype(np.float32) / self._scale


class Subset(FactorData):
    """The observations of ``data`` at ``indices`` (in that order)."""

    def __init__(self, data: FactorData, indices):
        self.data = data
        self.indices = data._index(indices)
        self.name, self.factor_names = data.name, data.factor_names
        self.discrete, self.shape = data.discrete, data.shape

    def __len__(self) -> int:
        return len(self.indices)

    def factor_classes(self, index) -> np.ndarray:
        return self.data.factor_classes(self.indices[self._index(index)])

    def factor_values(self, index) -> np.ndarray:
        return self.data.factor_values(self.indices[self._index(index)])

    def observations(self, index) -> np.ndarray:
        return self.data.observations(self.indices[self._index(index)])


DATASETS = {"dsprites": DSprites, "shapes3d": Shapes3D, "dsprites-npz": DSpritesNpz,
            "shapes3d-h5": Shapes3DH5, "digits": Digits, "mixture": GaussianMixture}
"""Data sets by name; the file-backed ones take a ``path``."""


def _path(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be the path of the file; got {value!r}")
    return value


IMAGES = ("dsprites", "shapes3d", "dsprites-npz", "shapes3d-h5")
"""The image sets (C x 64 x 64): they take ``size``."""


def _size(name, value):
    _factor(value, name)
    return value


def _config_class(name: str, cls) -> type:
    """The configuration of data set ``name``: its constructor's options plus ``subset`` and ``subset_seed``
    (and ``size`` for the image sets)."""
    extra = [("name", Literal[name], field(default=name)),
             ("subset", int | None, field(default=None, metadata=check(validation.positive_int))),
             ("subset_seed", int, field(default=0, metadata=check(
                 lambda n, v: validation.positive_int(n, v, minimum=0))))]
    if name in IMAGES:
        extra.append(("size", int, field(default=SIZE, metadata=check(_size))))
    init = cls.__init__ if cls.__init__ is not object.__init__ else (lambda self: None)  # procedural: no options
    return from_signature(init, f"{cls.__name__}Config", extra=extra, checks={"path": _path})


CONFIGS = {name: _config_class(name, cls) for name, cls in DATASETS.items()}
"""The data sets' configuration classes by name (:func:`deep.config.from_signature` of their constructors)."""


def data_config(spec, where: str = "data"):
    """The strict configuration of a data spec (a mapping with ``name``, or a configuration of :data:`CONFIGS`)."""
    if isinstance(spec, tuple(CONFIGS.values())):
        return spec
    return strict_choice(CONFIGS, spec, key="name", where=where, what="data set")


def build_data(spec) -> FactorData:
    """A data set from a spec ``{"name", "path"?, "subset"?, "subset_seed"?, **options}`` (or its configuration).

    ``subset`` keeps that many distinct indices drawn with ``subset_seed`` (default 0);
    ``size`` (image sets only; 64 by default) below 64 gives the block means of the 64-px
    images at that size, rendered once per process (after ``subset``) and held in memory
    (:class:`Downsampled`; full dSprites at 16 px: 189 MB); any other key is a keyword argument of the data class (e.g. ``{"name": "digits",
    "binarize": "stochastic", "split": "train"}``, ``{"name": "mixture", "means": ...,
    "stds": ..., "n": ...}``); a key the data class does not take is an error.
    """
    options = as_dict(data_config(spec))
    name, subset, subset_seed = options.pop("name"), options.pop("subset"), options.pop("subset_seed")
    size = options.pop("size", SIZE)
    try:
        data = DATASETS[name](**options)
    except UserError:
        raise
    except ValueError as err:
        raise UserError(f"data {name!r}: {err}") from None
    if subset is not None:
        if subset > len(data):
            raise UserError(f"data.subset must be at most the data size {len(data)}; got {subset}")
        rng = np.random.default_rng(subset_seed)
        data = Subset(data, np.sort(rng.choice(len(data), subset, replace=False)))
    if size != SIZE:
        key = json.dumps(as_dict(data_config(spec)), sort_keys=True)
        if key not in _HELD:  # rendered once per process: a sweep's worker reuses it for every run
            _HELD[key] = Downsampled(data, size)
        data = _HELD[key]
    return data


_HELD: dict[str, Downsampled] = {}
"""The reduced-size sets this process has rendered, by their configuration."""


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """The indices of batch ``step``: uniform with replacement, a pure function of (seed, step)."""
    return np.random.default_rng([seed, step]).integers(0, n, batch_size)


class BatchStream(torch.utils.data.IterableDataset):
    """Batches ``start`` ... ``stop - 1`` as ``(step, observations)``; workers share steps round-robin.

    A DataLoader with ``num_workers = W`` asks its workers in turn, so worker ``w``
    producing steps ``start + w, start + w + W, ...`` keeps the stream in step order.
    """

    def __init__(self, data: FactorData, batch_size: int, seed: int, start: int, stop: int):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.start, self.stop = start, stop

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.start + worker, self.stop, workers):
            idx = batch_indices(len(self.data), self.batch_size, self.seed, step)
            yield step, torch.from_numpy(self.data.observations(idx))


def batch_loader(data: FactorData, batch_size: int, seed: int, start: int, stop: int, *,
                 num_workers: int = 0, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader over :class:`BatchStream`: rendering in ``num_workers`` processes with
    prefetching and pinned memory keeps a GPU fed while it trains on the previous batch."""
    workers = validation.positive_int("num_workers", num_workers, minimum=0)
    return torch.utils.data.DataLoader(
        BatchStream(data, batch_size, seed, start, stop), batch_size=None, num_workers=workers,
        pin_memory=pin_memory, prefetch_factor=4 if workers else None)
