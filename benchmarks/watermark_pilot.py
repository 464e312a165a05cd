"""Watermark pilots (issue 10): how much of a latent residual survives, and how fast message nets learn.

Three measurements on the frozen vanilla base (`bmshj2018-hyperprior-q4-cpu14k`), training crops of
`../shared/data/train` (128², batch 8) and Kodak images:

  survival   fraction of latent elements kept exactly by decode → 8-bit → re-encode, and how often a ±1
             change on a random 1 % of elements survives it (Kodak 03 and 15)
  file       message nets (`slic.codec.watermark`) trained on h_d(y + h_e(m, y) + U(−½, ½)) — the
             `.slic` path with CompressAI's quantisation proxy — with a penalty `--penalty`·r²;
             prints the raw BER of the last 50 steps every 100 steps
  png        the same nets trained on h_d(g_a(q(g_s(round(y + h_e(m, y)))))) — the decoded-image path —
             with a fidelity hinge at 40 dB PSNR(ĉ, ŝ)

    python benchmarks/watermark_pilot.py survival
    python benchmarks/watermark_pilot.py file --bits 80 --steps 400
    python benchmarks/watermark_pilot.py png --bits 80 --steps 250 --init 0.05
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

os.environ.setdefault("SLIC_WEIGHTS_PATH", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "weights"))

from slic import zoo  # noqa: E402
from slic.codec.differentiable import round_8bit_ste  # noqa: E402
from slic.codec.net import build_net, read_state_dict  # noqa: E402
from slic.codec.watermark import MessageNets, message_loss  # noqa: E402
from slic.io.convert import to_tensor  # noqa: E402
from slic.io.images import find_images, load_image  # noqa: E402
from slic.training.data import CropSampler  # noqa: E402

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def base_net():
    spec = zoo.get_spec("bmshj2018-hyperprior-q4-cpu14k")
    net = build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights))).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@torch.no_grad()
def survival(net) -> None:
    for n in (3, 15):
        x = to_tensor(load_image(os.path.join(SHARED, "kodak", f"kodim{n:02d}.png")))
        yh = torch.round(net.g_a(x))
        c = torch.round(net.g_s(yh).clamp(0, 1) * 255) / 255
        y2 = torch.round(net.g_a(c))
        nz = yh != 0
        gen = torch.Generator().manual_seed(n)
        idx = torch.rand(yh.shape, generator=gen) < 0.01
        d = torch.zeros_like(yh)
        d[idx] = torch.where(torch.rand(int(idx.sum()), generator=gen) < 0.5, -1.0, 1.0)
        s = torch.round(net.g_s(yh + d).clamp(0, 1) * 255) / 255
        y3 = torch.round(net.g_a(s))
        kept = float(((y3 - y2)[idx] * d[idx] > 0.5).float().mean())
        print(f"kodim{n:02d}: elements kept {float((y2 == yh).float().mean()):.3f} (non-zero "
              f"{float((y2[nz] == yh[nz]).float().mean()):.3f}); ±1 on 1 % survives {kept:.3f}; "
              f"PSNR(ĉ, ŝ) {float(-10 * torch.log10((c - s).pow(2).mean())):.2f} dB")


def train(net, path: str, bits: int, steps: int, lr: float, init: float, penalty: float, seed: int) -> None:
    torch.manual_seed(seed)
    nets = MessageNets(bits, net.g_s[0].in_channels)
    torch.nn.init.normal_(nets.encoder.embed.weight, std=init)
    opt = torch.optim.Adam(nets.parameters(), lr=lr)
    sampler = CropSampler(find_images([os.path.join(SHARED, "train")]), 128, seed)
    errors, quality = [], []
    t0 = time.time()
    for step in range(steps + 1):
        x = sampler.batch(8)
        m = torch.randint(0, 2, (8, bits)).float()
        with torch.no_grad():
            y = net.g_a(x)
        r = nets.encoder(m, y)
        if path == "file":
            logits = nets.decoder(y + r + torch.empty_like(y).uniform_(-0.5, 0.5))
            loss = message_loss(logits, m) + penalty * r.pow(2).mean()
            quality.append(float(r.detach().pow(2).mean().sqrt()))
        else:
            with torch.no_grad():
                c = round_8bit_ste(net.g_s(torch.round(y)))
            q = y + r
            s = round_8bit_ste(net.g_s(q + (torch.round(q) - q).detach()))
            logits = nets.decoder(net.g_a(s))
            psnr = -10 * torch.log10((s - c).pow(2).flatten(1).mean(1).clamp_min(1e-10))
            loss = message_loss(logits, m) + penalty * torch.relu(40 - psnr).mean() / 10
            quality.append(float(psnr.detach().mean()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        errors.append(float(((logits > 0).float() != m).float().mean()))
        if step % 50 == 0:
            label = "r_rms" if path == "file" else "PSNR(ĉ, ŝ)"
            print(f"step {step:4d} ({time.time() - t0:5.0f} s): raw BER (last 50) {np.mean(errors[-50:]):.3f}, "
                  f"{label} {np.mean(quality[-50:]):.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("survival", "file", "png"))
    ap.add_argument("--bits", type=int, default=80)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--init", type=float, default=0.02, help="std of h_e's message embedding at init")
    ap.add_argument("--penalty", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net = base_net()
    if args.what == "survival":
        survival(net)
    else:
        train(net, args.what, args.bits, args.steps, args.lr, args.init, args.penalty, args.seed)


if __name__ == "__main__":
    main()
