"""Training on real crops: the loss moves the codec, checkpoints resume, export loads by name, DDP runs."""

import json
import os
import subprocess
import sys

import pytest
import torch

from slic.io.images import find_images
from slic.codec.differentiable import round_8bit_ste
from slic.training import ALPHAS, TrainConfig, Trainer
from slic.zoo import LAMBDAS

BASE = "bmshj2018-hyperprior-q4-cpu14k"


@pytest.fixture
def tiny_data(tmp_path, kodim_crop):
    """Four real photo crops as a training folder (Kodak is only a stand-in: tests never train for real)."""
    from PIL import Image

    d = tmp_path / "data"
    d.mkdir()
    for i, n in enumerate((1, 5, 13, 21)):
        Image.fromarray(kodim_crop(n, 96)).save(d / f"img{i}.png")
    return d


def config(tmp_path, data, **kw):
    base = dict(out=str(tmp_path / "run"), data=[str(data)], base=BASE, metric="gmsd", noise="blur,affine",
                alpha=6.0, lr=1e-4, batch=2, crop=64, steps=3, val_every=0, ckpt_minutes=100)
    base.update(kw)
    return TrainConfig(**base)


def test_paper_tables():
    assert LAMBDAS[4] == 0.013 and ALPHAS[4] == 0.6 and ALPHAS[8] == 2.5 and len(LAMBDAS) == len(ALPHAS) == 8


def test_round_8bit_ste_rounds_forward_and_passes_gradient():
    x = torch.tensor([0.1234, 0.5, 1.2], requires_grad=True)
    y = round_8bit_ste(x)
    assert torch.allclose(y * 255, torch.round(y * 255)) and y.max() == 1.0
    y.sum().backward()
    assert torch.equal(x.grad, torch.tensor([1.0, 1.0, 0.0]))  # straight through, except where clamped


def test_adversarial_steps_change_the_weights_and_resume(tmp_path, tiny_data):
    trainer = Trainer(config(tmp_path, tiny_data, val_every=3))
    before = trainer.net.g_s[0].weight.detach().clone()
    result = trainer.run()
    assert result["step"] == 3 and not torch.equal(before, trainer.net.g_s[0].weight.detach())
    assert (tmp_path / "run" / "val" / "step0000003.png").is_file() and "val_bpp" in result
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 4 and "psnr_x1_x2" in log[0]
    resumed = Trainer(config(tmp_path, tiny_data, steps=5), resume=True)
    assert resumed.step == 3
    assert torch.equal(resumed.net.g_s[0].weight, trainer.net.g_s[0].weight)
    resumed.run()
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 6


def test_export_is_a_loadable_zoo_model(tmp_path, tiny_data, monkeypatch, kodim_crop):
    monkeypatch.setenv("SLIC_HOME", str(tmp_path / "home"))
    trainer = Trainer(config(tmp_path, tiny_data, steps=1))
    bounds = {n: float(b) for n, b in trainer.net.state_dict().items() if n.endswith("likelihood_lower_bound.bound")}
    assert len(bounds) == 2 and all(b == pytest.approx(1e-9) for b in bounds.values())  # the floor, not fp16's 0
    trainer.run()
    trainer.export("unit-test-model", fp16=True)
    stored = torch.load(tmp_path / "run" / "unit-test-model.pth", weights_only=True)
    assert all(stored[n].dtype == torch.float32 and float(stored[n]) > 0 for n in bounds)
    assert stored["g_a.0.weight"].dtype == torch.float16
    card = json.loads((tmp_path / "home" / "weights" / "unit-test-model.json").read_text())
    assert card["arch"] == "bmshj2018-hyperprior" and card["training"]["steps"] == 1
    import slic

    codec = slic.load_codec("unit-test-model")
    assert codec.roundtrip(kodim_crop(2, 64)).shape == (64, 64, 3)


def test_train_init_starts_from_another_model_and_keeps_the_base_for_guards_and_lambda(tmp_path, tiny_data):
    """--init: a SLIC model's weights moved to another quality of its family (the SLIC Ballé ladder):
    the net starts as slic-default, λ, the card's quality and the guards' reference are the base's."""
    from slic import zoo
    from slic.codec.net import read_state_dict

    cfg = config(tmp_path, tiny_data, base="bmshj2018-hyperprior-q2-cpu", init="slic-default", guard_weight=1.0, steps=1)
    trainer = Trainer(cfg)
    v5 = read_state_dict(zoo.fetch(zoo.get_spec("slic-default").weights))
    assert torch.equal(trainer.net.g_s[0].weight.detach(), v5["g_s.0.weight"].float())
    assert trainer.quality == 2 and trainer.cfg.lmbda == LAMBDAS[2]
    q2 = read_state_dict(zoo.fetch(zoo.get_spec("bmshj2018-hyperprior-q2-cpu").weights))
    assert torch.equal(trainer.base.g_s[0].weight, q2["g_s.0.weight"].float())  # the guard's reference
    assert "warm-started from slic-default" in trainer.description()


def test_pretrain_from_random_init(tmp_path, tiny_data):
    cfg = config(tmp_path, tiny_data, base=None, arch="bmshj2018-hyperprior", quality=1, adversarial=False,
                 alpha=None, steps=2)
    trainer = Trainer(cfg)
    assert trainer.cfg.lmbda == LAMBDAS[1] and trainer.metric is None
    assert trainer.run()["step"] == 2


def test_find_images_rejects_empty(tmp_path):
    from slic.errors import InputError

    with pytest.raises(InputError):
        find_images([str(tmp_path)])


def test_ddp_path_with_gloo_two_processes(tmp_path, tiny_data):
    """torchrun --nproc_per_node 2 on the CPU: both ranks finish and end with identical weights."""
    script = tmp_path / "ddp.py"
    script.write_text(f"""
import torch, sys
from slic.training import TrainConfig, Trainer
cfg = TrainConfig(out={str(tmp_path / 'ddp')!r}, data=[{str(tiny_data)!r}], base={BASE!r}, metric="gmsd",
                  noise="blur", alpha=6.0, lr=1e-4, batch=1, crop=64, steps=2, val_every=0, ckpt_minutes=100)
t = Trainer(cfg)
t.run()
import torch.distributed as dist
w = t.net.g_s[0].weight.detach().reshape(-1)[:64].clone()
ws = [torch.zeros_like(w) for _ in range(2)]
dist.all_gather(ws, w)
assert torch.equal(ws[0], ws[1]), "ranks diverged"
open({str(tmp_path)!r} + f"/ok-{{dist.get_rank()}}", "w").close()
dist.destroy_process_group()
""")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29517", str(script)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "ok-0").exists() and (tmp_path / "ok-1").exists()


def test_attacker_spec_default_plus_more_members():
    from slic.attacker import DEFAULT_ATTACKER, AdaptiveAttacker
    from slic.cli.train_commands import _attacker_spec

    assert _attacker_spec("default") == DEFAULT_ATTACKER
    spec = _attacker_spec("default,crop:top=2-2:left=0-63,paste_on")
    assert spec == DEFAULT_ATTACKER + ",crop:top=2-2:left=0-63,paste_on"
    labels = AdaptiveAttacker(spec).labels
    assert len(labels) == len(AdaptiveAttacker(DEFAULT_ATTACKER).labels) + 2 and "paste_on" in labels
    with pytest.raises(Exception, match="twice"):
        _attacker_spec("default,gray")  # already a default member


def test_attacker_search_trains_and_is_recorded(tmp_path, tiny_data):
    """`--attacker-search 3`: the worst-of-3 adaptive step runs end to end and the run records K."""
    import json

    trainer = Trainer(config(tmp_path, tiny_data, attacker="crop:top=0-15:left=0-15,gray", attacker_search=3,
                             steps=2, batch=2))
    result = trainer.run()
    assert result["step"] == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text())["attacker_search"] == 3


def test_attacker_search_without_the_adaptive_attacker_is_a_one_line_error(tmp_path, tiny_data, capsys):
    from slic.cli import main

    code = main(["train", "--base", BASE, "--data", str(tiny_data), "--out", str(tmp_path / "run"), "--steps", "1",
                 "--attacker-search", "4"])
    err = capsys.readouterr().err
    assert code == 1 and "--attacker-search needs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
    code = main(["train", "--base", BASE, "--data", str(tiny_data), "--out", str(tmp_path / "run"), "--steps", "1",
                 "--attacker-prefix"])
    err = capsys.readouterr().err
    assert code == 1 and "--attacker-prefix needs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
