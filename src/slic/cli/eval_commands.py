"""Commands for researchers who evaluate: edit, eval, eval-rd, attack-pgd, robustness."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..evaluation import attacks
from ..evaluation.attacks import run_pgd
from ..evaluation.rd import ANCHORS, run_rd
from ..evaluation.robustness import fmt as robustness_fmt
from ..evaluation.report import _fmt, _mean, attack_rows
from ..evaluation.suite import EvalConfig, run_eval
from ..io.atomic import write_json
from .args import device, positive_int
from .codec_commands import add_model_args

EVAL_DESCRIPTION = """`slic eval` measures with real bitstreams what the SLIC papers report, for a model and, through
the identical pipeline, for a vanilla control codec (low PSNR after re-compression = protection holds):
  * bpp; PSNR / MS-SSIM / LPIPS of (x, x̂1) and of (x̂1, x̂2), x̂2 = codec(x̂1)        preprint Table 3
  * PSNR(edit(x̂1), codec(edit(x̂1))) for the eight edits of `slic edit`               preprint Table 4
  * PSNR(x̂1, V(x̂1)) for every vanilla codec V whose weights are present            journal Table 5
  * laundering: x̂1 K-way re-encoded by a vanilla codec, then PSNR(x̂1, laundered)
    and PSNR(laundered, codec(laundered)): does the protection survive?
  * K-way self re-compression: PSNR(x̂1, best-of-K codec(x̂1)): can transforms dodge self-destruction?"""


def add_commands(subparsers) -> None:
    """Register `slic edit`, `slic eval`, `slic eval-rd`, `slic attack-pgd` and `slic robustness`."""
    _add_edit_command(subparsers)

    def common(p):
        p.add_argument("--device", type=device, default="cpu", help="cpu (default) or cuda")
        p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")

    p = subparsers.add_parser("eval", help="evaluate a model: re-compression, edits, vanilla and laundering attacks",
                              description=EVAL_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="zoo model to evaluate (default: slic-default if bundled)")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="image directories (or files)")
    p.add_argument("--out", help="output directory (default ./slic-eval-MODEL)")
    p.add_argument("--limit", type=positive_int, default=None, help="first N images only")
    p.add_argument("--edits", default=None, help="comma-separated subset of the eight edits (default all; 'none')")
    p.add_argument("--vanilla", nargs="+", default=None, metavar="NAME",
                   help="vanilla codecs for the re-compression attack (default: every one present locally)")
    p.add_argument("--control", default=None, help="vanilla control run through the same pipeline "
                   "(default: the vanilla codec the SLIC model stands on, as its cards say; 'none' to skip it)")
    p.add_argument("--launder-k", type=int, default=2, help="K of the K-way laundering / re-compression (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random transforms (default 0)")
    p.add_argument("--no-lpips", action="store_true", help="skip LPIPS (saves the VGG passes)")
    common(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("eval-rd", help="rate–distortion points, curves and BD-rates of several models")
    p.add_argument("--models", nargs="+", required=True, metavar="NAME")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR")
    p.add_argument("--limit", type=positive_int, default=None)
    p.add_argument("--out", help="output directory (default ./slic-eval-rd)")
    p.add_argument("--anchors", nargs="*", choices=tuple(ANCHORS), default=list(ANCHORS),
                   help="classical anchors coded by Pillow on the same images, each family compared with them "
                        "(default: jpeg webp; give the flag alone for none)")
    common(p)
    p.set_defaults(func=cmd_eval_rd)

    p = subparsers.add_parser("attack-pgd",
                              help="PGD rate/distortion attack on a codec, with or without the two-way defence")
    p.add_argument("--model", help="zoo model (default: slic-default if bundled)")
    p.add_argument("--image", required=True)
    p.add_argument("--eps", default="4/255", help="L∞ budget (default 4/255)")
    p.add_argument("--step", default="2/255", help="PGD step (default 2/255)")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--target", choices=("distortion", "rate"), default="distortion")
    p.add_argument("--defense", choices=("none", "two-way"), default="none",
                   help="two-way: also code with the transform defence (unknown to the attacker)")
    p.add_argument("--k", type=int, default=2, help="K of the defence (default 2 = two-way)")
    p.add_argument("--eot", type=int, default=0, help="EoT: average the attack over N random transforms per step")
    _transforms_arg(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the result as JSON here")
    common(p)
    p.set_defaults(func=cmd_attack_pgd)

    p = subparsers.add_parser("eval-twoway", help="the two-way compression paper: PGD / EoT-PGD × K-way encoding",
                              description=TWOWAY_DESCRIPTION)
    p.add_argument("--model", help="zoo model (default: slic-default if bundled)")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR")
    p.add_argument("--out", help="output directory (default ./slic-eval-twoway-MODEL)")
    p.add_argument("--limit", type=positive_int, default=None)
    p.add_argument("--crop", type=positive_int, default=256, help="centre crop side (default 256; 0 = whole)")
    p.add_argument("--ways", type=positive_int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--targets", nargs="+", choices=("rate", "distortion"), default=["rate", "distortion"])
    p.add_argument("--eps", default="4/255"), p.add_argument("--step", default="2/255")
    p.add_argument("--iters", type=positive_int, default=50)
    p.add_argument("--eot", type=positive_int, default=24, help="random transforms per EoT-PGD step (default 24)")
    _transforms_arg(p)
    p.add_argument("--seed", type=int, default=0)
    common(p)
    p.set_defaults(func=cmd_eval_twoway)

    sub = subparsers
    p = sub.add_parser("robustness", help="everyday operations on x̂1: which of them strip the protection",
                       description="Apply ≥ 40 everyday operations (geometry, colour, filters, noise, compression, "
                                   "compositing, screenshots, chains, a global change then an everyday op) to each "
                                   "first compression x̂1 and report PSNR(a(x̂1), slic(a(x̂1))); ≥ 20 dB means the "
                                   "operation strips the protection.")
    p.add_argument("--data", nargs="+", help="directories or files of images (required unless --list)")
    p.add_argument("--out", help="output directory (default slic-robustness-MODEL)")
    p.add_argument("--ops", help="comma-separated operation names (default: all), or op specs such as 'jpeg:q=60'")
    p.add_argument("--limit", type=positive_int, help="use the first N images")
    p.add_argument("--list", action="store_true", help="list the operations and exit")
    p.add_argument("--threads", type=positive_int, help="CPU threads")
    add_model_args(p)
    p.set_defaults(func=cmd_robustness)

    p = sub.add_parser("eval-watermark", help="Watermark SLIC: Table 1, extraction curves, false positives",
                       description="Per image: cover and stego (random 40-bit payload), fidelity, BER and payload "
                                   "recovery from the .slic file and the decoded PNG, cover/stego re-compression, "
                                   "the eight edits, extraction curves (JPEG, resize, crop, rotation); then the "
                                   "false-positive test on unmarked images. Writes summary.json, table.md, curves.png.")
    p.add_argument("--data", nargs="+", required=True, help="image folders (one table each), e.g. Kodak and samples/ffhq")
    p.add_argument("--out", help="output directory (default slic-eval-watermark-MODEL)")
    p.add_argument("--limit", type=positive_int, help="the first N images of each folder")
    p.add_argument("--no-curves", dest="curves", action="store_false")
    p.add_argument("--no-edits", dest="edits", action="store_false")
    p.add_argument("--unmarked", nargs="*", metavar="DIR",
                   help="folders for the false-positive test (photos, their crops, JPEG/WebP, covers, other codecs)")
    p.add_argument("--unmarked-crops", type=int, default=6, help="random crops per unmarked photo (default 6)")
    p.add_argument("--other-codecs", nargs="*", default=["bmshj2018-hyperprior-q4-cpu14k", "slic-default"],
                   help="codecs whose outputs join the unmarked set")
    p.add_argument("--calibrate", nargs="*", metavar="DIR",
                   help="calibrate the 'uncorrectable' threshold on unmarked images derived from these (training) "
                        "folders first, and use it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, help="CPU threads")
    add_model_args(p)
    p.set_defaults(func=cmd_eval_watermark)

    p = sub.add_parser("eval-verify", help="calibrate slic verify on tampered training photos, measure it on test photos",
                       description="Build tampered images (splices, copy-move, inpainting, splice + JPEG, splice from a "
                                   "JPEG) from the first compressions of --train photos, calibrate the verify "
                                   "thresholds on them, then report pixel AUC/F1/IoU and verdicts per kind on --data.")
    p.add_argument("--train", nargs="+", required=True, help="calibration photos (never the test set)")
    p.add_argument("--data", nargs="+", required=True, help="test photos, e.g. Kodak")
    p.add_argument("--out", help="output directory (default slic-eval-verify-MODEL)")
    p.add_argument("--train-limit", type=positive_int, help="the first N calibration photos")
    p.add_argument("--limit", type=positive_int, help="the first N test photos")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, help="CPU threads")
    add_model_args(p)
    p.set_defaults(func=cmd_eval_verify)

    p = sub.add_parser("eval-screening", help="does miscompression screening flag the text the codec changed? (OCR)",
                       description="Draw random digits and words (8–18 px) into crops of photos, compress them, read "
                                   "the text with Tesseract before and after, calibrate the screening threshold on "
                                   "--train (≥ 90 %% of changed readings flagged) and report recall and false alarms on "
                                   "--data. Needs Debian's tesseract-ocr and pytesseract.")
    p.add_argument("--train", nargs="+", required=True, help="calibration photos")
    p.add_argument("--data", nargs="+", required=True, help="test photos")
    p.add_argument("--trials", type=positive_int, default=200, help="text renderings per set (default 200)")
    p.add_argument("--out", help="output directory (default slic-eval-screening-MODEL)")
    p.add_argument("--ocr", action="store_true",
                   help="judge the OCR screen (slic encode --screen-ocr) on the same trials as well")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, help="CPU threads")
    add_model_args(p)
    p.set_defaults(func=cmd_eval_screening)


def _cmd_edit(args) -> int:
    from ..evaluation.edits import apply_edit, parse_param_strings, resolve_params
    from ..io.images import load_image, save_image

    params = parse_param_strings(args.param)
    resolve_params(args.op, params)  # fail on bad parameters before reading anything
    img = load_image(args.input)
    save_image(apply_edit(img, args.op, **params), args.output)
    return 0


def _add_edit_command(subparsers) -> None:
    from ..evaluation.edits import DEFAULTS, EDITS, show_param as _show

    p = subparsers.add_parser(
        "edit", help="apply one of the evaluation edits (Table 2) to an image",
        description="Apply an evaluation edit: " + "; ".join(
            f"{op}({', '.join(f'{k}={_show(v)}' for k, v in DEFAULTS[op].items())})" for op in EDITS))
    p.add_argument("input", metavar="IN", help="input image")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (format from extension)")
    p.add_argument("--op", required=True, choices=EDITS, help="the edit")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable), e.g. --param quality=75; "
                        "sharpen: --param kernel=[[0,-1,0],[-1,5,-1],[0,-1,0]]")
    p.set_defaults(func=_cmd_edit)


def _print_eval(result: dict, out: Path) -> None:
    summary, control = result["summary"], result["control"]
    summaries = [summary] + ([control] if control else [])
    print(f"{'metric':<52}" + "".join(f"{s['name'][:30]:>32}" for s in summaries))
    keys = ["bpp", "psnr-rgb", "ms-ssim-rgb", "lpips-vgg"] + [key for _, key in attack_rows(summary)]
    for key in keys:
        if key in summary["results"]:
            print(f"{key:<52}" + "".join(f"{_fmt(_mean(s, key), 3):>32}" for s in summaries))
    secs = result["seconds_per_image"]
    print(f"time per image: {np.mean(secs):.1f} s (" + ", ".join(f"{s:.1f}" for s in secs) + f"), "
          f"{len(summaries)} codec(s) each")
    print(f"wrote {out}/summary.json, table.md, attacks.png, rd.png, examples.png, images/*.json")


def cmd_eval(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    from ..codec import default_model

    model = args.model or default_model()
    out = Path(args.out or f"slic-eval-{model}")
    edits = None if args.edits is None else [e.strip() for e in args.edits.split(",") if e.strip() and e != "none"]
    config = EvalConfig(model, args.data, out, limit=args.limit, edits=edits, vanilla=args.vanilla,
                        control=args.control, launder_k=args.launder_k, seed=args.seed, lpips=not args.no_lpips,
                        device=args.device)
    result = run_eval(config, progress=not args.quiet)
    _print_eval(result, out)
    return 0


# ------------------------------------------------------------------------------------ eval-rd


def _comparison_line(c: dict, anchor: str) -> str:
    """One family against an anchor curve: its BD-rate, or (too few points for one) the rate change
    of each of its points at equal PSNR."""
    if isinstance(c["bd-rate"], float):
        return f"BD-rate {c['test']} vs {anchor}: {c['bd-rate']:+.2f} %"
    if len(c["anchor_points"]["bpp"]) < 2:
        return f"BD-rate {c['test']} vs {anchor}: n/a (the anchor is one point; a curve needs 2, a BD-rate 4)"
    points = ", ".join("outside the anchor's PSNR range" if v is None else f"{v:+.1f} %"
                       for v in c["rate_at_equal_psnr_percent"])
    return f"rate vs {anchor} at equal PSNR, {c['test']}: {points} (a BD-rate needs 4 points per curve)"


def cmd_eval_rd(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out or "slic-eval-rd")
    result = run_rd(args.models, args.data, out, limit=args.limit, device=args.device, progress=not args.quiet,
                    anchors=args.anchors)
    print(f"{'model':<36} {'family':<32} {'bpp':>8} {'PSNR':>8}")
    for r in result["models"]:
        print(f"{r['name']:<36} {r['family']:<32} {r['bpp']:8.4f} {r['psnr-rgb']:8.2f}")
    for c in result["bd_rate_percent"]:
        print(_comparison_line(c, c["anchor"]))
    if not result["bd_rate_percent"]:
        print("BD-rate: n/a (needs a SLIC family and the vanilla family of the same architecture)")
    for c in result["bd_rate_vs_anchors_percent"]:
        print(_comparison_line(c, f"{c['anchor'].upper()} (Pillow)"))
    print(f"wrote {out}/rd.json, rd.png")
    return 0


def _transforms_arg(p) -> None:
    from ..format.extensions import DEFAULT_TRANSFORM_FAMILY, TRANSFORM_FAMILIES

    p.add_argument("--transforms", choices=TRANSFORM_FAMILIES, default=DEFAULT_TRANSFORM_FAMILY,
                   help="the defence's transform family, also EoT's (default: same-size, as slic encode --ways)")


def _fraction(text: str) -> float:
    """'4/255' or '0.0157' → float (argparse type)."""
    try:
        num, _, den = str(text).partition("/")
        return float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"not a number or fraction: {text!r}") from None


def cmd_attack_pgd(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    from ..codec import default_model

    result = run_pgd(args.model or default_model(), args.image, args.target, _fraction(args.eps),
                     _fraction(args.step), args.iters, args.defense, args.k, args.eot, args.seed, args.device,
                     family=args.transforms)
    print(f"PGD {result['target']} attack on {result['model']}: eps {result['eps'] * 255:.1f}/255, step "
          f"{result['step'] * 255:.1f}/255, {result['iters']} iterations, EoT {result['eot']}; "
          f"PSNR(x, x_adv) {result['perturbation_psnr']:.2f} dB")
    print(f"{'input':<12} {'defense':<8} {'bpp':>8} {'PSNR(x, x̂)':>12} {'PSNR(in, x̂)':>13}  transform kept")
    for r in result["rows"]:
        t = r.get("transform")
        kept = "–" if t is None else "identity" if t == attacks.Transform().as_dict() else json.dumps(t)
        print(f"{r['input']:<12} {r['defense']:<8} {r['bpp']:8.4f} {r['psnr-rgb']:12.2f} "
              f"{r['psnr-rgb-vs-input']:13.2f}  {kept}")
    if args.json:
        write_json(Path(args.json), result)
        print(f"wrote {args.json}")
    return 0


# ------------------------------------------------------------------------------------ CLI


TWOWAY_DESCRIPTION = """Two-way (K-way) compression as a defence: clean / PGD (defence unknown) / EoT-PGD
(defence known) inputs, for the rate and the distortion target, each coded with K-way encoding for every K
given (K = 1: no defence), with real bitstreams. Writes twoway.json, table.md, rd.png, kway.png."""


def cmd_eval_twoway(args) -> int:
    from ..codec import default_model
    from ..evaluation.twoway import TwoWayConfig, run_twoway

    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or default_model()
    cfg = TwoWayConfig(model, args.data, Path(args.out or f"slic-eval-twoway-{model}"), limit=args.limit,
                       crop=args.crop or None, ways=args.ways, targets=args.targets, eps=_fraction(args.eps),
                       step=_fraction(args.step), iters=args.iters, eot=args.eot, seed=args.seed,
                       family=args.transforms)
    run_twoway(cfg, progress=not args.quiet)
    print((cfg.out / "table.md").read_text())
    print(f"wrote {cfg.out}/twoway.json, table.md, rd.png, kway.png")
    return 0


def cmd_robustness(args) -> int:
    from ..evaluation import robustness
    from ..codec import default_model

    if args.list:
        for name, (category, spec, _) in robustness.available_operations().items():
            print(f"{name:<24}{category:<13}{spec}")
        return 0
    if not args.data:
        raise InputError("slic robustness needs --data (directories or files of images), or --list")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or default_model()
    out = Path(args.out or f"slic-robustness-{model}")
    summary = robustness.run_robustness(model, args.data, out, ops=args.ops, limit=args.limit, device=args.device,
                                        progress=not args.quiet)
    _print_robustness(summary, out)
    return 0


def cmd_eval_watermark(args) -> int:
    from ..codec import load_codec
    from ..evaluation import watermark as wm_eval
    from ..io.atomic import write_json, write_text

    from ..codec.codec import default_watermark_model

    if args.threads:
        torch.set_num_threads(args.threads)
    args.model = args.model or default_watermark_model()
    out = Path(args.out or f"slic-eval-watermark-{args.model}")
    codec = load_codec(args.model, args.device)
    if not codec.is_watermark_model:
        raise InputError(f"model '{args.model}' is not a watermark model")
    extra = {}
    if args.calibrate:
        cal = wm_eval.calibrate(codec, args.calibrate, args.unmarked_crops, args.seed + 1)
        codec.watermark_threshold = cal["threshold"]
        extra["calibration"] = cal
        print(f"calibrated threshold {cal['threshold']:.3f} on {cal['images']} unmarked training-derived images "
              f"(confidence max {cal['confidence']['max']:.3f}; {cal['found']} found)")
    summary = wm_eval.run_watermark_eval(wm_eval.WatermarkEvalConfig(
        model=args.model, data=args.data, out=str(out), limit=args.limit, seed=args.seed, curves=args.curves,
        edits=args.edits, device=args.device, extra=extra))
    if args.unmarked:
        others = [load_codec(name, args.device) for name in args.other_codecs]
        summary["false_positives"] = wm_eval.false_positive_test(codec, args.unmarked, [codec, *others],
                                                                 args.unmarked_crops, args.seed + 2)
        write_json(out / "summary.json", summary)
        write_text(out / "table.md", wm_eval.table(summary))
    print(wm_eval.table(summary))
    print(f"wrote {out}/summary.json, table.md, curves.png, per_image_*.json")
    return 0


def cmd_eval_verify(args) -> int:
    from ..codec import default_model, load_codec
    from ..evaluation import tamper

    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or default_model()
    out = Path(args.out or f"slic-eval-verify-{model}")
    report = tamper.run(load_codec(model, args.device), args.train, args.data, out, seed=args.seed,
                        train_limit=args.train_limit, limit=args.limit, progress=not args.quiet)
    print(tamper.table(report))
    print(f"wrote {out}/summary.json, table.md, params.json")
    return 0


def cmd_eval_screening(args) -> int:
    from ..codec import default_model, load_codec
    from ..codec.ocr_screening import require_ocr, require_tesseract
    from ..evaluation import screening

    if args.ocr:
        require_ocr()
    else:
        require_tesseract()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or default_model()
    out = Path(args.out or f"slic-eval-screening-{model}")
    report = screening.run(load_codec(model, args.device), args.train, args.data, out, args.trials, args.seed,
                           progress=not args.quiet, ocr=args.ocr)
    print(screening.table(report))
    print(f"wrote {out}/summary.json, table.md, trials.json")
    return 0


def _print_robustness(summary: dict, out: Path) -> None:
    print(f"{'operation':<24}{'category':<13}{'PSNR op':>9}{'recompressed':>14}{'worst':>8}")
    for name, o in summary["operations"].items():
        flag = "  STRIPPED" if o["stripped"] else ""
        print(f"{name:<24}{o['category']:<13}{robustness_fmt(o['psnr_op']):>9}{robustness_fmt(o['psnr_recompressed']):>14}"
              f"{robustness_fmt(o['psnr_recompressed_worst']):>8}{flag}")
    print(f"stripped {summary['stripped']} of {len(summary['operations'])}; median "
          f"{robustness_fmt(summary['median_psnr_recompressed'])} dB; worst {summary['worst_operation']}")
    print(f"wrote {out}/summary.json, table.md, bars.png, examples.png, images/*.json")
