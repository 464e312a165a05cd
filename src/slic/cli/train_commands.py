"""Commands for researchers who train: train (SLIC fine-tuning), pretrain (vanilla codecs), train-jpegsim."""

from __future__ import annotations

import json

import torch

from ..errors import InputError
from .args import device, positive_float, positive_int, share
from ..io.images import find_images
from ..training import TrainConfig, Trainer


def _common_args(p) -> None:
    p.add_argument("--data", nargs="+", required=True, help="directories or files of training images")
    p.add_argument("--out", required=True, help="run directory (checkpoint.pt, log.csv, val_grid.png)")
    p.add_argument("--steps", type=positive_int, help="stop at this many optimiser steps in all (a resumed run counts "
                   "the checkpoint's: --resume --steps 1 --export NAME exports a checkpoint without training)")
    p.add_argument("--minutes", type=positive_float, help="wall-clock minutes for this invocation (not cumulative "
                   "over resumes)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--lambda", dest="lmbda", type=float, help="rate-distortion λ (default: CompressAI's for the quality)")
    p.add_argument("--lr", type=positive_float), p.add_argument("--batch", type=positive_int, default=8)
    p.add_argument("--crop", type=positive_int, default=128), p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-bf16", dest="bf16", action="store_false", help="fp32 transforms (bf16 autocast is the default)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep the default memory format (channels_last is the default)")
    p.add_argument("--ckpt-minutes", type=positive_float, default=5.0)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's; use 1 when another job holds a core)")
    p.add_argument("--export", metavar="NAME", help="export the final weights + model card into the zoo under NAME")
    p.add_argument("--fp16", action="store_true", help="store exported weights as fp16")


def add_commands(sub) -> None:
    _add_jpegsim_command(sub)
    p = sub.add_parser("train", help="SLIC adversarial fine-tuning of a zoo codec")
    p.add_argument("--base", required=True, help="zoo model to fine-tune, e.g. bmshj2018-hyperprior-q4-cpu14k")
    p.add_argument("--metric", default="gmsd", help="perceptual metric P (gmsd, lpips, dists, ...)")
    p.add_argument("--noise", default="blur,affine,jpeg", help="the preprint's noise attacker spec (see slic.attacker.noise)")
    p.add_argument("--attacker", nargs="?", const="default", metavar="SPEC",
                   help="the adaptive attacker over the op registry instead of --noise: 'default', 'default,MORE' "
                        "(the default members plus more) or a spec "
                        "such as 'jpeg:q=30-95,resize:factor=0.4-1.6,gray,codec,chain:n=2-3' (slic.attacker)")
    p.add_argument("--attacker-search", type=positive_int, default=1, metavar="K",
                   help="with --attacker: per image, draw K parameter sets of the step's op and train on the one the "
                        "model re-compresses most faithfully (worst of K: the weakest crop phase, scale or quality "
                        "of the category instead of a random one; K more no-grad forwards per image); a member "
                        "written 'op:params@K' in the spec searches its own K")
    p.add_argument("--attacker-prefix", nargs="?", const="default", metavar="SPEC",
                   help="with --attacker: on a share of the steps (--attacker-prefix-share), apply one op of SPEC "
                        "before the drawn op, so that the protection holds after a global change too; 'default' = "
                        "turns and mirror images, grayscale, desaturation (slic.attacker.PREFIX_ATTACKER)")
    p.add_argument("--attacker-prefix-share", type=share, default=0.5, metavar="P",
                   help="share (0-1) of the steps that get the prefix (default 0.5)")
    p.add_argument("--local-weight", type=float, default=0.0,
                   help="weight of the tile hinge (32×32 tiles must collapse too); 0 = off")
    p.add_argument("--local-db", type=float, default=14.0, help="tile re-compression PSNR the tile hinge allows")
    p.add_argument("--guard-weight", type=float, default=0.0,
                   help="weight of the per-image quality guard against the vanilla base; 0 = off")
    p.add_argument("--guard-db", type=float, default=0.3, help="dB an image may lose against the base unguarded")
    p.add_argument("--rate-weight", type=float, default=0.0,
                   help="weight of the rate guard against the vanilla base; 0 = off")
    p.add_argument("--rate-margin", type=float, default=0.02, help="relative rate above the base left unguarded")
    p.add_argument("--alpha", type=float, help="adversarial weight (default: the preprint's Table 1 for the quality)")
    p.add_argument("--tau", type=float, default=1.0)
    p.add_argument("--init", metavar="MODEL", help="start from this zoo model's tensors (names and shapes that match) "
                   "instead of the base's; the base stays the guards' reference and sets λ (e.g. --base "
                   "bmshj2018-hyperprior-q2-cpu --init slic-default: a SLIC model at another quality)")
    _common_args(p)
    p.set_defaults(func=_cmd_train, adversarial=True)

    _add_watermark_command(sub)

    p = sub.add_parser("pretrain", help="train a vanilla codec (R + λD) from random init")
    p.add_argument("--arch", required=True), p.add_argument("--quality", type=int, required=True)
    p.add_argument("--init", metavar="MODEL", help="warm start: copy the tensors of this zoo model whose names "
                                                   "and shapes match (e.g. a Ballé base into mbt2018-mean)")
    _common_args(p)
    p.set_defaults(func=_cmd_train, adversarial=False)


def _attacker_spec(value: str | None) -> str | None:
    if value is None:
        return None
    from ..attacker import DEFAULT_ATTACKER, AdaptiveAttacker

    head, _, extra = value.partition(",")
    spec = DEFAULT_ATTACKER + ("," + extra if extra else "") if head.strip() == "default" else value
    AdaptiveAttacker(spec)  # fail on a bad spec before loading anything
    return spec


def _prefix_spec(value: str | None) -> str | None:
    if value is None:
        return None
    from ..attacker import PREFIX_ATTACKER, AdaptiveAttacker

    spec = PREFIX_ATTACKER if value.strip() == "default" else value
    AdaptiveAttacker("gray", prefix=spec, prefix_share=0.5)  # fail on a bad spec before loading anything
    return spec


def _budget_and_threads(args) -> None:
    """A training command needs --steps or --minutes; --threads sets torch's CPU threads."""
    if args.steps is None and args.minutes is None:
        raise InputError("give --steps N or --minutes M")
    if args.threads:
        torch.set_num_threads(args.threads)


def _cmd_train(args) -> int:
    _budget_and_threads(args)
    if getattr(args, "attacker_search", 1) > 1 and not getattr(args, "attacker", None):
        raise InputError("--attacker-search needs the adaptive attacker (--attacker)")
    if getattr(args, "attacker_prefix", None) and not getattr(args, "attacker", None):
        raise InputError("--attacker-prefix needs the adaptive attacker (--attacker)")
    cfg = TrainConfig(
        out=args.out, data=args.data, base=getattr(args, "base", None), arch=getattr(args, "arch", None),
        quality=getattr(args, "quality", None), init=getattr(args, "init", None), metric=getattr(args, "metric", "gmsd"),
        noise=getattr(args, "noise", ""), lmbda=args.lmbda, alpha=getattr(args, "alpha", None),
        tau=getattr(args, "tau", 1.0), lr=args.lr or (5e-5 if args.adversarial else 1e-4), batch=args.batch,
        crop=args.crop, steps=args.steps, minutes=args.minutes, seed=args.seed, bf16=args.bf16,
        channels_last=args.channels_last,
        ckpt_minutes=args.ckpt_minutes, val_every=args.val_every, device=args.device, adversarial=args.adversarial,
        attacker=_attacker_spec(getattr(args, "attacker", None)), attacker_search=getattr(args, "attacker_search", 1),
        attacker_prefix=_prefix_spec(getattr(args, "attacker_prefix", None)),
        attacker_prefix_share=getattr(args, "attacker_prefix_share", 0.5),
        local_weight=getattr(args, "local_weight", 0.0), local_db=getattr(args, "local_db", 14.0),
        guard_weight=getattr(args, "guard_weight", 0.0), guard_db=getattr(args, "guard_db", 0.3),
        rate_weight=getattr(args, "rate_weight", 0.0), rate_margin=getattr(args, "rate_margin", 0.02),
    )
    trainer = Trainer(cfg, resume=args.resume)
    final = trainer.run()
    if trainer.rank == 0:
        print(json.dumps(final))
    if args.export:
        trainer.export(args.export, fp16=args.fp16)
    return 0


def _add_watermark_command(sub) -> None:
    from ..training.watermark import WatermarkWeights

    d = WatermarkWeights()
    p = sub.add_parser("train-watermark", help="train Watermark SLIC (message nets h_e/h_d + codec) from a vanilla base",
                       description="Watermark SLIC (ACM MM Asia 2024): covers stay idempotent, stegos carry 128 raw "
                                   "bits (40-bit payload, CRC-16, BCH t=11) and self-destruct on re-compression. "
                                   "Defaults are the paper's α, β, γ, τ, LPIPS and learning rates.")
    p.add_argument("--base", default="bmshj2018-hyperprior-q4-cpu14k", help="vanilla zoo codec to start from")
    p.add_argument("--attacker", default="watermark", metavar="SPEC",
                   help="noise u: 'watermark' (crop, JPEG, WebP, resize, zoom, affine, rotation, blur, median, "
                        "sharpen, lighten, equalise, colour, noise, chains) or an attacker spec (slic.attacker)")
    p.add_argument("--alpha", type=float, default=d.alpha, help="weight of the message loss L_M")
    p.add_argument("--beta", type=float, default=d.beta, help="weight of the adversarial loss L_A on the stego")
    p.add_argument("--gamma", type=float, default=d.gamma, help="weight of the re-encoded/noised message terms")
    p.add_argument("--tau", type=float, default=d.tau, help="hinge of L_A")
    p.add_argument("--adv-metric", default=d.adv_metric, help="metric of L_A (lpips-alex as the paper, gmsd, ...)")
    p.add_argument("--perceptual", default=d.perceptual, help="metric of L_P")
    p.add_argument("--codec-weight", type=float, default=d.codec_weight,
                   help="weight of the perceptual/adversarial terms in the codec's loss (0 = R + λD only)")
    p.add_argument("--stego-db", type=float, default=d.stego_db, help="PSNR(ĉ, ŝ) below which the fidelity hinge acts")
    p.add_argument("--cover-db", type=float, default=d.cover_db, help="PSNR(ĉ, ĉ') below which the idempotence hinge acts")
    p.add_argument("--fidelity-weight", type=float, default=d.fidelity_weight)
    p.add_argument("--cover-weight", type=float, default=d.cover_weight)
    p.add_argument("--unmarked-weight", type=float, default=d.unmarked_weight,
                   help="weight of 'h_d answers chance on photos and covers'")
    p.add_argument("--msg-lr", type=positive_float, default=d.msg_lr, help="learning rate of h_e and h_d")
    _common_args(p)
    p.set_defaults(func=_cmd_train_watermark)


def _cmd_train_watermark(args) -> int:
    from ..training.watermark import DEFAULT_WM_ATTACKER, WatermarkTrainer, WatermarkWeights

    _budget_and_threads(args)
    weights = WatermarkWeights(
        alpha=args.alpha, beta=args.beta, gamma=args.gamma, tau=args.tau, adv_metric=args.adv_metric,
        perceptual=args.perceptual, codec_weight=args.codec_weight, stego_db=args.stego_db, cover_db=args.cover_db,
        fidelity_weight=args.fidelity_weight, cover_weight=args.cover_weight, unmarked_weight=args.unmarked_weight,
        msg_lr=args.msg_lr)
    cfg = TrainConfig(
        out=args.out, data=args.data, base=args.base, metric=args.adv_metric, lmbda=args.lmbda, lr=args.lr or 5e-5,
        batch=args.batch, crop=args.crop, steps=args.steps, minutes=args.minutes, seed=args.seed, bf16=args.bf16,
        channels_last=args.channels_last, ckpt_minutes=args.ckpt_minutes, val_every=0, device=args.device,
        attacker=_attacker_spec(DEFAULT_WM_ATTACKER if args.attacker == "watermark" else args.attacker))
    from .. import zoo

    if zoo.get_spec(args.base).is_slic:
        raise InputError(f"--base {args.base} is a SLIC model; start Watermark SLIC from a vanilla codec")
    trainer = WatermarkTrainer(cfg, weights, resume=args.resume)
    print(json.dumps(trainer.run()))
    if args.export:
        trainer.export(args.export, fp16=args.fp16)
    return 0


def _cmd_train_jpegsim(args) -> int:
    from ..training.jpegsim import train_jpegsim

    if args.steps is not None and args.minutes is not None:
        raise InputError("give --steps or --minutes, not both")
    if args.threads:
        torch.set_num_threads(args.threads)
    eval_images = find_images(args.eval) if args.eval else None
    card = train_jpegsim(args.data, args.out, steps=args.steps, minutes=args.minutes, base=args.base,
                         crop=args.crop, batch=args.batch, lr=args.lr, qualities=(args.qmin, args.qmax),
                         seed=args.seed, resume=args.resume, residual=not args.no_residual,
                         loss=args.loss, name=args.name, eval_images=eval_images)
    print(f"wrote {card['path']} ({card['steps']} steps, {card['minutes']} min)")
    if "psnr_vs_real_jpeg" in card:
        for q, v in card["psnr_vs_real_jpeg"].items():
            print(f"  q={q}: surrogate {v:.2f} dB, identity {card['psnr_identity_vs_real_jpeg'][q]:.2f} dB")
    return 0


def _add_jpegsim_command(subparsers) -> None:
    p = subparsers.add_parser(
        "train-jpegsim", help="train the UNetJPEG surrogate of JPEG used by the training attacker",
        description="Train UNetJPEG on real Pillow JPEG pairs of random crops; writes OUT/checkpoint.pt, "
                    "OUT/<name>.pt (fp16) and OUT/<name>.json.")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="training image folders (recursive)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--steps", type=positive_int, default=None, help="total optimiser steps")
    p.add_argument("--minutes", type=positive_float, default=None, help="total training wall time")
    p.add_argument("--base", type=int, default=16, help="UNet width (64 = the paper's)")
    p.add_argument("--crop", type=positive_int, default=128)
    p.add_argument("--batch", type=positive_int, default=8)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--qmin", type=int, default=70)
    p.add_argument("--qmax", type=int, default=95)
    p.add_argument("--loss", choices=("mse", "l1"), default="mse")
    p.add_argument("--no-residual", action="store_true", help="plain sigmoid output as in the paper")
    p.add_argument("--name", default=None, help="exported model name (default jpegsim-unet<base>)")
    p.add_argument("--eval", nargs="+", metavar="DIR", default=None,
                   help="images measured after training (PSNR vs real JPEG, q=70..95) for the card")
    p.add_argument("--threads", type=positive_int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.set_defaults(func=_cmd_train_jpegsim)
