"""The coverage-guided fuzzer (benchmarks/fuzz_container.py) for a short budget, and hypothesis
properties of the container: round trips with fields at their limits, every truncation refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slic.errors import FormatError
from slic.format import container

REPO = Path(__file__).resolve().parents[1]


def test_fuzzer_short_budget_finds_nothing(tmp_path):
    pytest.importorskip("atheris")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fuzz_container.py"), "--seconds", "8",
                           "--artifacts", str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert "stat::number_of_executed_units" in out and not list(tmp_path.iterdir())


_names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=container.MAX_NAME)


@settings(max_examples=200, deadline=None)
@given(name=_names, quality=st.integers(1, 8), latent=st.tuples(st.integers(1, 2000), st.integers(1, 2000)),
       pads=st.tuples(st.integers(0, 63), st.integers(0, 63)),
       strings=st.lists(st.binary(max_size=300), min_size=1, max_size=container.MAX_STRINGS),
       optional=st.dictionaries(st.integers(0x80, 0xFF).filter(lambda t: t not in (0x82, 0x83)), st.binary(max_size=40),
                                max_size=4),
       signature=st.none() | st.binary(min_size=128, max_size=128),
       transform=st.none() | st.tuples(st.integers(0, 7), *[st.integers(0, 64)] * 4, st.booleans()),
       risk=st.none() | st.tuples(st.booleans(), st.integers(0, 65535), st.integers(1, 1024),
                                  st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 65535),
                                                     st.integers(0, 65535)), max_size=16)))
def test_round_trip_with_fields_at_their_limits(name, quality, latent, pads, strings, optional, signature, transform,
                                                risk):
    from slic.format.extensions import RISK, SIGNATURE, TRANSFORM, RiskSummary, TransformIndex

    ph, pw = latent[0] * 64, latent[1] * 64
    blocks = dict(optional)
    if transform is not None:
        blocks[TRANSFORM] = TransformIndex(*transform).pack()
    if signature is not None:
        blocks[SIGNATURE] = signature
    if risk is not None:
        flagged, top, tile, worst = risk
        summary = RiskSummary(flagged, top / 1000, 0.5, tile, tuple((a, b, r / 1000) for a, b, r in worst))
        blocks[RISK] = summary.pack()
        assert RiskSummary.unpack(blocks[RISK]) == summary
    header = container.SlicHeader(name, bytes(range(container.DIGEST_BYTES)), quality, ph - pads[0], pw - pads[1],
                                  pads[0], pads[1], latent, blocks)
    data = container.pack(header, strings)
    back, got = container.unpack(data)
    assert back == header and got == strings
    for cut in range(len(data)):  # every truncation is refused
        with pytest.raises(FormatError):
            container.unpack(data[:cut])
