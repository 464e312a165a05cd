"""The training attacker: random, reproducible, differentiable, sharing its blur/affine with the edits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slic.io.convert import to_tensor, to_uint8
from slic.evaluation.edits import apply_edit
from slic.errors import InputError
from slic.attacker.noise import NoiseAttacker, parse_spec

pytestmark = pytest.mark.usefixtures("one_thread")



@pytest.fixture(scope="module")
def batch(kodim_crop):
    imgs = [kodim_crop(n, size=64, top=96, left=160) for n in (1, 3, 7, 13, 19, 23)]
    return torch.stack([to_tensor(i)[0] for i in imgs])


@pytest.fixture(scope="module")
def surrogate():
    from slic.attacker.jpegsim import load_jpegsim

    return load_jpegsim()


def test_default_spec_and_shape(batch, surrogate):
    att = NoiseAttacker(jpegsim=surrogate, seed=0)
    assert att.names == ["blur", "affine", "jpeg"]
    y = att(batch)
    assert y.shape == batch.shape and y.dtype == batch.dtype
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert len(att.last_ops) == batch.shape[0]


def test_default_spec_loads_the_bundled_surrogate(batch):
    att = NoiseAttacker(seed=0)
    assert att.jpegsim is not None and not any(p.requires_grad for p in att.jpegsim.parameters())
    assert att(batch).shape == batch.shape


def test_deterministic_for_a_seed(batch, surrogate):
    a, b, c = (NoiseAttacker(jpegsim=surrogate, seed=s) for s in (7, 7, 8))
    for _ in range(3):
        ya, yb, yc = a(batch), b(batch), c(batch)
        assert a.last_ops == b.last_ops
        assert torch.equal(ya, yb)
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(a(batch), (b(batch), torch.rand(3))[0])
    assert not torch.equal(yc, ya) or a.last_ops != c.last_ops


@pytest.mark.parametrize("spec", ["blur", "affine", "jpeg", "blur,affine,jpeg"])
def test_differentiable(batch, surrogate, spec):
    att = NoiseAttacker(spec, jpegsim=surrogate, seed=1)
    x = batch.clone().requires_grad_(True)
    y = att(x)
    (y * torch.linspace(0, 1, y.numel()).view_as(y)).sum().backward()
    g = x.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    if "," not in spec:
        assert not torch.allclose(y, batch, atol=1e-3)  # it did something


def test_identity_only_when_listed(batch):
    # sigma >= 0.8 so that every blur is visible (sigma=0.1 with k=3 is numerically the identity)
    att = NoiseAttacker("blur:sigma=0.8-1.5,affine", seed=3)
    seen = set()
    big = batch.repeat(8, 1, 1, 1)
    for _ in range(5):
        y = att(big)
        seen.update(att.last_ops)
        per_image = (y - big).abs().flatten(1).amax(dim=1)
        assert (per_image > 1e-3).all(), "every image must be changed"
    assert seen == {"blur", "affine"}

    att = NoiseAttacker("blur:sigma=1-1.5,identity", seed=3)
    y = att(big)
    ident = [i for i, op in enumerate(att.last_ops) if op == "identity"]
    assert 0 < len(ident) < big.shape[0]
    for i in range(big.shape[0]):
        same = torch.equal(y[i], big[i])
        assert same == (i in ident)


def test_one_op_per_image_all_ops_used(batch, surrogate):
    att = NoiseAttacker("blur,affine,jpeg,identity", jpegsim=surrogate, seed=5)
    big = batch.repeat(6, 1, 1, 1)  # 36 images
    att(big)
    counts = {op: att.last_ops.count(op) for op in att.names}
    assert all(c > 0 for c in counts.values()) and sum(counts.values()) == big.shape[0]


def test_blur_is_the_eval_blur(kodim_crop):
    img = kodim_crop(4, size=(60, 90))
    att = NoiseAttacker("blur:k=5:sigma=2", seed=0)
    y = att(to_tensor(img))
    assert np.array_equal(to_uint8(y), apply_edit(img, "blur"))


def test_affine_is_the_eval_affine(kodim_crop):
    img = kodim_crop(8, size=100)
    att = NoiseAttacker("affine:deg=10-10:translate=0.1-0.1:scale=0.95", seed=0)
    y = att(to_tensor(img))
    ref = apply_edit(img, "affine", angle=10, tx=10, ty=10, scale=0.95)  # 10 % of 100 px
    diff = np.abs(to_uint8(y).astype(int) - ref.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01


def test_fixed_quality_jpeg_is_the_surrogate(batch, surrogate):
    att = NoiseAttacker("jpeg:q=80", jpegsim=surrogate, seed=0)
    with torch.no_grad():
        assert torch.allclose(att(batch), surrogate(batch, 80.0).clamp(0, 1), atol=1e-6)


def test_spec_parsing_and_overrides():
    p = parse_spec("blur:sigma=0.1-1.5,affine:deg=10:translate=0.1:scale=0.9-1.1,jpeg:q=70-95,identity")
    assert list(p) == ["blur", "affine", "jpeg", "identity"]
    assert p["blur"]["sigma"] == (0.1, 1.5) and p["blur"]["k"] == (3, 3)
    assert p["affine"]["deg"] == (-10, 10) and p["affine"]["translate"] == (-0.1, 0.1)
    assert p["affine"]["scale"] == (0.9, 1.1) and p["jpeg"]["q"] == (70, 95)
    assert parse_spec("affine:deg=-5-2")["affine"]["deg"] == (-5, 2)
    assert parse_spec(" Blur : sigma = 0.5 ")["blur"]["sigma"] == (0.5, 0.5)
    assert parse_spec("blur,affine,jpeg") == parse_spec(
        "blur:k=3:sigma=0.1-1.5,affine:deg=10:translate=0.1:scale=0.9-1.1,jpeg:q=70-95")


@pytest.mark.parametrize("spec", [
    "", " ", "blur,", "sharpen", "blur,blur", "blur:sigma", "blur:sigma=", "blur:radius=2",
    "blur:sigma=abc", "blur:sigma=2-1", "blur:sigma=0", "blur:k=4", "blur:k=3-5", "affine:scale=0",
    "affine:translate=1.5", "jpeg:q=0-90", "jpeg:q=90-101", "identity:x=1", "blur:sigma=1..2",
])
def test_spec_errors_raise_input_error(spec):
    with pytest.raises(InputError) as exc:
        NoiseAttacker(spec, seed=0)
    assert "\n" not in str(exc.value)


def test_bad_input_shape(batch):
    with pytest.raises(InputError):
        NoiseAttacker("blur", seed=0)(batch[:, :1])
