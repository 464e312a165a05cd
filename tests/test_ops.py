"""The op registry (slic.ops) and the adaptive training attacker, on real Kodak crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slic import ops
from slic.attacker import DEFAULT_ATTACKER, AdaptiveAttacker
from slic.errors import InputError
from slic.io.convert import to_tensor
from slic.ops.compression import plugin_available, real_jpeg

# ops whose effect on some draws can be below one grey level on a smooth crop, or that need a plugin
PLUGIN_OPS = {"avif": "AVIF", "heif": "HEIF"}


@pytest.fixture(scope="module")
def crop(kodim_crop):
    return kodim_crop(4, (96, 128), top=60, left=300)


@pytest.fixture(scope="module")
def batch(crop, kodim_crop):
    other = kodim_crop(23, (96, 128), top=200, left=200)
    return to_tensor(np.stack([crop, other]).reshape(-1, 128, 3)).reshape(1, 3, 2, 96, 128) \
        .permute(0, 2, 1, 3, 4).reshape(2, 3, 96, 128)


def _ops():
    return [n for n in ops.names() if n not in PLUGIN_OPS or plugin_available(PLUGIN_OPS[n])]


@pytest.mark.parametrize("name", _ops())
def test_every_op_changes_the_image_and_keeps_range(name, crop, one_thread):
    op = ops.get(name)
    rng = np.random.default_rng(7)
    params = op.sample(rng)
    out = op.apply_uint8(crop, params)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    changed = out.shape != crop.shape or np.abs(out.astype(int) - crop.astype(int)).mean() > 0.05
    assert changed, f"{name} left the image unchanged with {params}"
    if not op.resizes:
        assert out.shape == crop.shape


@pytest.mark.parametrize("name", _ops())
def test_every_op_is_seeded_and_replayable(name, batch, one_thread):
    op = ops.get(name)
    p1, p2 = op.sample(np.random.default_rng(3)), op.sample(np.random.default_rng(3))
    assert p1 == p2
    y1, y2 = op(batch, **p1), op(batch, **p2)
    assert torch.equal(y1, y2)
    assert y1.dtype == batch.dtype and float(y1.min()) >= 0 and float(y1.max()) <= 1


@pytest.mark.parametrize("name", [n for n in _ops() if ops.get(n).differentiable])
def test_differentiable_ops_pass_a_gradient(name, batch, one_thread):
    op = ops.get(name)
    x = batch.clone().requires_grad_(True)
    y = op(x, **op.sample(np.random.default_rng(1)))
    (y * torch.linspace(0, 1, y.numel()).view_as(y)).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0, name


def test_real_jpeg_straight_through_is_pillow_forward(crop):
    out = ops.get("jpeg").apply_uint8(crop, {"q": 50, "chroma": "444"})
    assert np.array_equal(out, real_jpeg(crop, 50, "444"))
    assert not np.array_equal(real_jpeg(crop, 50, "444"), real_jpeg(crop, 50, "420"))


@pytest.mark.parametrize("q", [30, 50, 75, 90])
def test_differentiable_jpeg_is_close_to_pillow(q, kodak_dir, one_thread):
    """kornia's differentiable JPEG against Pillow's 4:2:0 JPEG at the same quality number: measured
    40-48 dB of agreement on these crops (q30 40.1-41.7, q50 41.2-44.0, q75 41.8-45.3, q90 44.3-47.4),
    and ≈ 0.9 dB milder (closer to the original) than Pillow."""
    from conftest import load_crop
    from slic.metrics import psnr_value as psnr_uint8

    agree, milder = [], []
    for n in (3, 8, 15):
        img = load_crop(kodak_dir / f"kodim{n:02d}.png", 256)
        diff = ops.get("jpeg_diff").apply_uint8(img, {"q": q})
        pil = real_jpeg(img, q, "420")
        agree.append(psnr_uint8(diff, pil))
        milder.append(psnr_uint8(img, diff) - psnr_uint8(img, pil))
    assert min(agree) > 39.5
    assert 0 < np.mean(milder) < 2


def test_spec_parsing_and_errors():
    (op,) = ops.parse("jpeg:q=40-60:chroma=444")
    assert op.params["q"].lo == 40 and op.params["q"].hi == 60 and op.params["chroma"].choices == ("444",)
    (chain,) = ops.parse("gray+jpeg:q=75")
    assert [o.name for o in chain.ops] == ["gray", "jpeg"]
    (rot,) = ops.parse("rotate:angle=5")
    assert (rot.params["angle"].lo, rot.params["angle"].hi) == (-5, 5)  # symmetric
    for bad in ["", "nosuchop", "jpeg:q=200", "jpeg:quality=50", "jpeg:q=abc", "jpeg:q", "jpeg:chroma=411",
                "resize:factor=-1", "crop:top=-3"]:
        with pytest.raises(InputError):
            ops.parse(bad)


def test_crop_covers_every_grid_phase(batch):
    crop = ops.get("crop")
    phases = {crop(batch, top=t, left=0).shape[-2] % 16 for t in range(16)}
    assert len(phases) == 16


def test_twoway_inverse_restores_geometry(batch):
    from slic.codec.transforms import twoway, twoway_inverse

    for k in range(8):
        p = {"k": k, "sh": 17, "sw": 5, "dy": 9, "dx": 33}
        back = twoway_inverse(twoway(batch, **p), **p)
        assert back.shape == batch.shape


# ------------------------------------------------------------------------------ the attacker


def test_attacker_is_seeded_and_its_state_resumes(batch, one_thread):
    a, b = AdaptiveAttacker(DEFAULT_ATTACKER, seed=5), AdaptiveAttacker(DEFAULT_ATTACKER, seed=5)
    draws_a = [a.draw()[::2] for _ in range(20)]
    draws_b = [b.draw()[::2] for _ in range(20)]
    assert draws_a == draws_b
    a.update("gray", 40.0)
    c = AdaptiveAttacker(DEFAULT_ATTACKER, seed=99)
    c.load_state(a.state())
    assert c.running == a.running and [c.draw()[::2] for _ in range(5)] == [a.draw()[::2] for _ in range(5)]


def test_attacker_samples_weak_ops_more_but_never_starves_one():
    a = AdaptiveAttacker("gray,blur,jpeg", seed=0)
    for _ in range(30):
        a.update("gray", 40.0)
        a.update("blur", 6.0)
        a.update("jpeg", 6.0)
    w = a.weights() / a.weights().sum()
    assert w[0] > 0.6  # gray still strips: drawn most
    raw = np.array([a.running[k] for k in a.labels]) ** 2
    assert np.allclose(a.weights(), np.maximum(raw, 0.25 * raw.mean()))  # the floor
    assert min(w) > 0.05


def test_attacker_chain_and_any_output_size(batch, one_thread):
    a = AdaptiveAttacker("crop:top=1-63:left=1-63,resize:factor=0.5-0.7,gray,chain:n=2-3", seed=1)
    sizes, labels = set(), set()
    for _ in range(12):
        label, y = a(batch)
        labels.add(label)
        sizes.add(tuple(y.shape[-2:]))
    assert "chain" in labels and len(sizes) > 2


def test_attacker_spec_errors():
    for bad in ["", "chain:n=9", "gray,gray", "chain:x=2", "jpeg:q=0"]:
        with pytest.raises(InputError):
            AdaptiveAttacker(bad)


def test_attacker_search_keeps_the_best_scoring_draw(batch, one_thread):
    """Worst-of-K: with a score that prefers the largest crop offset, each image keeps, of its K
    draws, the one that removed the most rows and columns; K = 1 (or no score) is the plain draw."""
    spec = "crop:top=0-63:left=0-63"
    plain = AdaptiveAttacker(spec, seed=3).per_image(batch)[1]
    no_score = AdaptiveAttacker(spec, seed=3).per_image(batch, search=8)[1]
    assert [u.shape for u in no_score] == [u.shape for u in plain]

    def removed(images):  # higher when more rows and columns are gone
        return [float(-(u.shape[-1] + u.shape[-2])) for u in images]

    searched = AdaptiveAttacker(spec, seed=3).per_image(batch, search=8, score=removed)[1]
    assert all(s.shape[-2] + s.shape[-1] <= p.shape[-2] + p.shape[-1] for s, p in zip(searched, plain))
    assert sum(-removed([s])[0] for s in searched) < sum(-removed([p])[0] for p in plain)
    # the kept draw is a real crop of its own image: its content is the image's at that offset
    s = searched[0]
    dy, dx = batch.shape[-2] - s.shape[-2], batch.shape[-1] - s.shape[-1]
    assert torch.equal(s, batch[0:1, :, dy:, dx:].clamp(0, 1))


def test_one_of_applies_the_drawn_member_to_tensors_and_images(crop, batch, one_thread):
    """OneOf draws a member and its parameters; the same draw gives the member's own result on a batch
    and on a uint8 image, and it has no fixed parameters of its own."""
    one = ops.OneOf(ops.parse("gray,dihedral"))
    assert one.title == "gray|dihedral" and one.resizes and one.grad == "exact"
    rng = np.random.default_rng(0)
    draws = [one.sample(rng) for _ in range(12)]
    assert {d["index"] for d in draws} == {0, 1}
    for d in draws[:4]:
        member = one.members[d["index"]]
        assert torch.equal(one(batch, **d), member(batch, **d["params"]))
        assert np.array_equal(one.apply_uint8(crop, d), member.apply_uint8(crop, d["params"]))
    with pytest.raises(InputError, match="sample"):
        one.apply_uint8(crop)


def test_attacker_prefix_puts_a_global_change_before_the_op(batch, one_thread):
    """`prefix_share=1`: every drawn op follows one op of the prefix spec (here the default set: turns
    and mirror images, grayscale, desaturation), each drawn; share 0 draws exactly as before."""
    from slic.attacker import PREFIX_ATTACKER

    prefixed = AdaptiveAttacker("crop:top=2-2:left=0", seed=2, prefix=PREFIX_ATTACKER, prefix_share=1.0)
    firsts, ks = set(), set()
    for _ in range(40):
        label, member, params = prefixed.draw()
        assert label == "crop:top=2-2:left=0" and isinstance(member, ops.Chain) and member.ops[1].name == "crop"
        first = member.ops[0].members[params["steps"][0]["index"]]
        firsts.add(first.name)
        if first.name == "dihedral":
            ks.add(params["steps"][0]["params"]["k"])
    assert firsts == {"dihedral", "gray", "saturation"} and ks <= set(range(1, 8)) and len(ks) >= 4
    sizes, grays = set(), 0
    for _ in range(12):
        _, outs = prefixed.per_image(batch)
        sizes.update(tuple(u.shape[-2:]) for u in outs)
        grays += sum(bool(torch.equal(u[:, 0], u[:, 1]) and torch.equal(u[:, 1], u[:, 2])) for u in outs)
    assert sizes == {(94, 128), (126, 96)} and grays > 0  # turned sideways or not, then two rows cropped
    k1 = ops.get("dihedral")(batch, k=1)
    assert torch.equal(torch.rot90(k1, -1, dims=(-2, -1)), batch)  # a real turn of the image, nothing else
    plain = AdaptiveAttacker(DEFAULT_ATTACKER, seed=4)
    off = AdaptiveAttacker(DEFAULT_ATTACKER, seed=4, prefix=PREFIX_ATTACKER, prefix_share=0.0)
    assert [plain.draw()[::2] for _ in range(20)] == [off.draw()[::2] for _ in range(20)]
    half = AdaptiveAttacker("gray", seed=1, prefix="dihedral", prefix_share=0.5)
    share = np.mean([isinstance(half.draw()[1], ops.Chain) for _ in range(400)])
    assert 0.4 < share < 0.6
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError):
            AdaptiveAttacker("gray", prefix="dihedral", prefix_share=bad)
    with pytest.raises(InputError):
        AdaptiveAttacker("gray", prefix="no_such_op", prefix_share=0.5)


def test_attacker_member_search_suffix_overrides_the_global_k(batch, one_thread):
    """'op@K' searches K draws for that member only; the others keep the global K, labels keep no suffix.
    The batch's candidates are scored in one call; an op without parameters has nothing to search."""
    tried = []

    def count(images):
        tried.append(len(images))
        return [0.0] * len(images)

    attacker = AdaptiveAttacker("crop:top=0-63:left=0-63:bottom=0-63:right=0-63@6,gray", seed=0)
    assert attacker.labels == ["crop:top=0-63:left=0-63:bottom=0-63:right=0-63", "gray"]
    seen = set()
    for _ in range(12):
        tried.clear()
        label, _ = attacker.per_image(batch, search=2, score=count)
        assert tried == ([6 * batch.shape[0]] if label.startswith("crop") else [])
        seen.add(label)
    assert seen == {"crop:top=0-63:left=0-63:bottom=0-63:right=0-63", "gray"}
    for bad in ["gray@0", "gray@x", "gray@65"]:
        with pytest.raises(InputError):
            AdaptiveAttacker(bad)
