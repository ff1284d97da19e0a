"""deep.data: the procedural sets render their exact factors; the real-file loaders read the real layouts.

The factor checks read the factors back from the pixels by routes that share nothing
with the renderer: image moments (centroid, area, principal axis) and HSV colours.
"""
import pickle

import h5py
import numpy as np
import pytest
import torch
from matplotlib.colors import rgb_to_hsv

from deep import data as D
from deep.config import UserError

PIXELS = np.arange(64) + 0.5


def random_classes(data, n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in data.factor_sizes], axis=1)


def test_dsprites_grid_has_the_real_files_size_values_and_index_layout():
    d = D.DSprites()
    assert len(d) == 737_280 == 3 * 6 * 40 * 32 * 32
    classes = random_classes(d, 500)
    np.testing.assert_array_equal(d.factor_classes(d.index_of(classes)), classes)
    # the last factor (posY) runs fastest, as in the .npz
    np.testing.assert_array_equal(d.factor_classes([0, 1, 32]), [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]])
    values = d.factor_values(d.index_of(classes))
    np.testing.assert_allclose(values[:, 1], 0.5 + 0.1 * classes[:, 1], rtol=1e-12)
    np.testing.assert_allclose(values[:, 2], 2 * np.pi * classes[:, 2] / 40, rtol=1e-12)
    np.testing.assert_allclose(values[:, 3:], classes[:, 3:] / 31, rtol=1e-12)
    assert values[:, 2].max() < 2 * np.pi


@pytest.fixture(scope="module")
def dsprites_sample():
    d = D.DSprites()
    idx = d.index_of(random_classes(d, 3000, seed=1))
    img = d.observations(idx)
    assert img.shape == (3000, 1, 64, 64) and img.dtype == np.float32
    assert set(np.unique(img)) <= {0.0, 1.0}
    return d, d.factor_classes(idx), d.factor_values(idx), img[:, 0]


def test_dsprites_position_and_scale_are_read_back_from_image_moments(dsprites_sample):
    d, classes, values, img = dsprites_sample
    area = img.sum((1, 2))
    cx = (img * PIXELS[None, None, :]).sum((1, 2)) / area
    cy = (img * PIXELS[None, :, None]).sum((1, 2)) / area
    col, row = d.centre(values)
    symmetric = classes[:, 0] < 2  # square and ellipse: the centroid is the centre
    assert np.max(np.hypot(cx - col, cy - row)[symmetric]) < 0.75  # positions are 32/31 px apart
    # one posX step moves every shape (the heart too) by 32/31 px on average
    slope = np.polyfit(classes[:, 3], cx, 1)[0]
    assert abs(slope - 32 / 31) < 0.01
    half_side = d.radius * values[:, 1]
    square = classes[:, 0] == 0
    # pixel-centre sampling errs by at most half the perimeter 8 r
    assert np.all(np.abs(area[square] - 4 * half_side[square] ** 2) <= 4 * half_side[square])
    ellipse = classes[:, 0] == 1
    assert np.all(np.abs(area[ellipse] - np.pi * half_side[ellipse] ** 2 / 2) <= 3 * half_side[ellipse])


def test_dsprites_ellipse_orientation_is_read_back_from_its_principal_axis(dsprites_sample):
    d, classes, values, img = dsprites_sample
    sel = (classes[:, 0] == 1) & (classes[:, 1] >= 2)  # scale >= 0.7: the axis is resolved to < 4.5 deg
    I = img[sel]
    area = I.sum((1, 2))
    dx = PIXELS[None, None, :] - ((I * PIXELS[None, None, :]).sum((1, 2)) / area)[:, None, None]
    dy = PIXELS[None, :, None] - ((I * PIXELS[None, :, None]).sum((1, 2)) / area)[:, None, None]
    angle = 0.5 * np.arctan2(2 * (I * dx * dy).sum((1, 2)), (I * dx * dx).sum((1, 2)) - (I * dy * dy).sum((1, 2)))
    # an ellipse is symmetric under a half turn: the orientation class is recovered mod 20
    recovered = np.round(angle / (2 * np.pi / 40)).astype(int) % 20
    assert sel.sum() > 300
    np.testing.assert_array_equal(recovered, classes[sel, 2] % 20)


def test_shapes3d_colours_corner_and_size_carry_the_factors():
    s = D.Shapes3D()
    assert len(s) == 480_000
    classes = random_classes(s, 400, seed=3)
    idx = s.index_of(classes)
    values = s.factor_values(idx)
    img = s.observations(idx)
    assert img.shape == (400, 3, 64, 64) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    hsv = rgb_to_hsv(np.moveaxis(img, 1, -1))
    np.testing.assert_allclose(hsv[:, 0, 0, 0], values[:, 1], atol=1e-6)  # wall, top left
    np.testing.assert_allclose(hsv[:, 63, 0, 0], values[:, 0], atol=1e-6)  # floor, bottom left
    np.testing.assert_allclose(hsv[:, 44, 32, 0], values[:, 2], atol=1e-6)  # object centre
    # the room's corner: the wall's brightness steps from 0.8 to 1.0 there
    step = np.argmax(hsv[:, 0, :, 2] > 0.9, axis=1)
    np.testing.assert_allclose(step, s.corner(values), atol=1.0)
    # the sphere's area is pi h^2 with h = 15 * scale, up to its rim's pixels
    sphere = (classes[:, 4] == 2) & (values[:, 2] != values[:, 0]) & (values[:, 2] != values[:, 1])
    area = (np.abs(hsv[sphere, :, :, 0] - values[sphere, 2, None, None]) < 1e-6).sum((1, 2))
    h = 15 * values[sphere, 3]
    assert sphere.sum() > 50
    assert np.all(np.abs(area - np.pi * h ** 2) <= 2 * np.pi * h)


@pytest.mark.parametrize("data", [D.DSprites(), D.Shapes3D()], ids=lambda d: d.name)
def test_every_factor_step_changes_every_image(data):
    base = random_classes(data, 200, seed=2)
    for j, size in enumerate(data.factor_sizes):
        moved = base.copy()
        moved[:, j] = (moved[:, j] + 1) % size
        changed = np.any(data.observations(data.index_of(base)) != data.observations(data.index_of(moved)),
                         axis=(1, 2, 3))
        assert changed.all(), f"factor {data.factor_names[j]} left {np.sum(~changed)} images unchanged"


def test_rendering_is_deterministic_and_sampling_is_seeded():
    d = D.DSprites()
    np.testing.assert_array_equal(d.sample(50, 7), d.sample(50, 7))
    assert not np.array_equal(d.sample(50, 7), d.sample(50, 8))
    idx = d.sample(20, 7)
    np.testing.assert_array_equal(d.observations(idx), d.observations(idx.copy()))


def test_dsprites_npz_loader_reads_the_real_layout(tmp_path):
    d = D.DSprites()
    idx = d.sample(40, 0)
    classes, values = d.factor_classes(idx), d.factor_values(idx)
    path = tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    # the real file: a constant colour factor first, and a pickled metadata dict
    np.savez(path, imgs=d.observations(idx)[:, 0].astype(np.uint8),
             latents_classes=np.column_stack([np.zeros(40, int), classes]),
             latents_values=np.column_stack([np.ones(40), values]),
             metadata=np.array({"description": "test"}, dtype=object))
    loaded = D.DSpritesNpz(path)
    assert len(loaded) == 40 and loaded.factor_names == d.factor_names
    np.testing.assert_array_equal(loaded.observations([3, 0, 3]), d.observations(idx[[3, 0, 3]]))
    np.testing.assert_array_equal(loaded.factor_classes(np.arange(40)), classes)
    np.testing.assert_array_equal(loaded.factor_values(np.arange(40)), values)


def test_shapes3d_h5_loader_reads_the_real_layout_lazily(tmp_path):
    s = D.Shapes3D()
    idx = s.sample(30, 0)
    path = tmp_path / "3dshapes.h5"
    images = np.round(np.moveaxis(s.observations(idx), 1, -1) * 255).astype(np.uint8)
    with h5py.File(path, "w") as f:
        f["images"] = images
        f["labels"] = s.factor_values(idx)
    loaded = D.Shapes3DH5(path)
    order = np.array([5, 1, 5, 29, 0])  # unsorted, repeated: h5py itself needs increasing indices
    np.testing.assert_array_equal(loaded.observations(order), np.moveaxis(images[order], -1, 1) / np.float32(255))
    np.testing.assert_allclose(loaded.factor_values(order), s.factor_values(idx[order]))
    # classes are ranks within the values present in the file
    ranks = np.stack([np.unique(c, return_inverse=True)[1] for c in s.factor_values(idx).T], axis=1)
    np.testing.assert_array_equal(loaded.factor_classes(np.arange(30)), ranks)
    clone = pickle.loads(pickle.dumps(loaded))  # as sent to a loader worker: reopens the file
    np.testing.assert_array_equal(clone.observations(order), loaded.observations(order))


def test_digits_and_subsets():
    digits = D.Digits()
    assert len(digits) == 1797 and digits.shape == (64,) and digits.factor_names == ("digit",)
    x = digits.observations(np.arange(10))
    assert x.min() >= 0 and x.max() <= 1
    sub = D.build_data({"name": "dsprites", "subset": 100, "subset_seed": 3})
    assert len(sub) == 100
    np.testing.assert_array_equal(sub.observations([0, 99]), D.DSprites().observations(sub.indices[[0, 99]]))
    np.testing.assert_array_equal(sub.factor_classes([5]), D.DSprites().factor_classes(sub.indices[[5]]))


@pytest.mark.parametrize("spec, message", [
    ({"name": "mnist"}, "data.name must be one of 'dsprites', "),
    ({"name": "dsprites-npz"}, "data needs the key 'path'"),
    ({"name": "dsprites-npz", "path": "/nonexistent.npz"}, "does not exist"),
    ({"name": "digits", "subset": 5000}, "subset must be at most"),
    ({"name": "digits", "subset": -3}, "subset must be an integer >= 1"),
    ({"name": "digits", "subset": 0}, "data.subset must be an integer >= 1; got 0"),  # not "the whole data set"
    ({"name": "digits", "binarise": "threshold"}, r"unknown key 'binarise' \(did you mean 'binarize'\?\)"),
    ({"name": "digits", "binarize": "otsu"}, "data 'digits': binarize must be None, 'stochastic' or 'threshold'"),
    ({"name": "dsprites", "path": "x.npz"}, "'path', a parameter of the 'dsprites-npz' and 'shapes3d-h5' data set"),
    ({"name": "dsprites", "n": 10}, "'n', a parameter of the 'mixture' data set only"),
])
def test_bad_data_specs_are_named(spec, message):
    with pytest.raises(UserError, match=message):
        D.build_data(spec)


@pytest.mark.parametrize("name, suffix", [("dsprites-npz", ".npz"), ("shapes3d-h5", ".h5")])
def test_a_damaged_data_file_is_named(name, suffix, tmp_path):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(b"not a data file")
    with pytest.raises(UserError, match=f"{path} is not a readable"):
        D.build_data({"name": name, "path": str(path)})


def test_bad_indices_are_named():
    d = D.DSprites()
    with pytest.raises(ValueError, match=r"index must lie in \[0, 737280\)"):
        d.observations([737_280])
    with pytest.raises(ValueError, match="index must be a 1-D integer array"):
        d.factor_classes([0.5])
    with pytest.raises(ValueError, match="classes must be an integer array"):
        D.ArrayData(np.zeros((3, 2)), [0.5, 1.0, 2.0])


def test_batch_stream_is_a_function_of_seed_and_step_for_any_worker_count():
    data = D.Subset(D.DSprites(), np.arange(0, 737_280, 997))
    serial = list(D.batch_loader(data, 8, seed=5, start=0, stop=6))
    assert [s for s, _ in serial] == list(range(6))
    for step, x in serial:
        np.testing.assert_array_equal(x.numpy(), data.observations(D.batch_indices(len(data), 8, 5, step)))
    resumed = list(D.batch_loader(data, 8, seed=5, start=3, stop=6, num_workers=2))
    assert [s for s, _ in resumed] == [3, 4, 5]
    for (_, a), (_, b) in zip(resumed, serial[3:]):
        assert torch.equal(a, b)
