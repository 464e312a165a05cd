"""Watermark Table 1's extraction rows for a keyed watermark model (docs/RESULTS.md §23): payload
errors and raw BER from the `.slic` file and from the decoded PNG with the final decoder (Chase soft
decoding), the mark's own cost PSNR(x̂1, ŝ) against the unmarked SLIC decode, and its rate against
that file. Same images and payloads as `slic eval-watermark --seed 0` (one rng over Kodak, then FFHQ).

    python benchmarks/watermark_reread.py      # from the repository root; writes watermark_reread.json
"""
import json, numpy as np, torch
from slic.codec import load_codec
from slic.codec.watermark import ber
from slic.format import payload as P
from slic.io.convert import to_tensor
from slic.io.images import find_images, load_image
torch.set_num_threads(1)
codec = load_codec("slic-wm-default")
rng = np.random.default_rng(0)
out = {}
for folder in ["../shared/data/kodak", "../shared/data/samples/ffhq"]:
    rows = []
    for path in find_images([folder]):
        payload = bytes(rng.integers(0, 256, P.PAYLOAD_BYTES, dtype=np.uint8))
        raw = P.encode_payload(payload)
        x = load_image(path)
        data = codec.encode(x, watermark=payload)
        png = codec.decode(data, output="array")
        row = {"image": str(path).split("/")[-1]}
        for where, src in (("file", data), ("png", png)):
            r = codec.extract(src)
            row[where] = {"status": r.status, "ok": r.payload == payload, "ber": ber(codec.message_logits(src), raw),
                          "corrected": r.corrected_bits}
        plain_bytes = codec.compress_tensor(to_tensor(x))
        plain = codec.decode(plain_bytes, output="array")
        row["rate_vs_plain_slic"] = len(data) / len(plain_bytes) - 1
        row["mark_cost_psnr"] = float(10 * np.log10(255 ** 2 / np.mean((plain.astype(float) - png) ** 2)))
        rows.append(row); print(row, flush=True)
    out[folder.split("/")[-1]] = rows
json.dump(out, open("watermark_reread.json", "w"), indent=1)
for k, rows in out.items():
    print(k, "file errors", sum(not r["file"]["ok"] for r in rows), "png errors", sum(not r["png"]["ok"] for r in rows),
          "ber file", np.mean([r["file"]["ber"] for r in rows]), "png", np.mean([r["png"]["ber"] for r in rows]),
          "mark cost mean/worst", np.mean([r["mark_cost_psnr"] for r in rows]), min(r["mark_cost_psnr"] for r in rows),
          "rate vs plain slic", np.mean([r["rate_vs_plain_slic"] for r in rows]))
