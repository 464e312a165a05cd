"""The .slic container: round trip, overhead, and defensive parsing of untrusted bytes."""

import os
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slic import zoo
from slic.format import container
from slic.errors import FormatError, SlicError

HEADER = container.SlicHeader(model="bmshj2018-hyperprior-q4-cpu14k", digest=bytes(range(8)), quality=4,
                              height=512, width=768, pad_bottom=0, pad_right=0, latent_shape=(8, 12))


def test_round_trip_keeps_every_field():
    strings = [b"\x01" * 53696, b"\x02" * 668]
    header, back = container.unpack(container.pack(HEADER, strings))
    assert header == HEADER and back == strings


@pytest.mark.parametrize("name", sorted(zoo.registry()))
def test_overhead_at_most_64_bytes_for_every_model(name):
    """Kodak-sized image, real string lengths of the base codec (53,696 and 668 bytes)."""
    strings = [b"\x00" * 53696, b"\x00" * 668]
    header = container.SlicHeader(name, bytes(8), 4, 512, 768, 0, 0, (8, 12))
    assert len(container.pack(header, strings)) - sum(map(len, strings)) <= 64


def test_every_truncation_is_a_format_error():
    data = container.pack(HEADER, [b"abc" * 20, b"xyz"])
    for n in range(len(data)):
        with pytest.raises(FormatError):
            container.unpack(data[:n])


def test_flipped_byte_fails_the_checksum():
    data = bytearray(container.pack(HEADER, [b"abc" * 20, b"xyz"]))
    for pos in range(5, len(data)):
        corrupted = bytearray(data)
        corrupted[pos] ^= 0x40
        with pytest.raises(FormatError):
            container.unpack(bytes(corrupted))


def test_foreign_file_and_future_version_are_named():
    with pytest.raises(FormatError, match="magic"):
        container.unpack(b"\x89PNG\r\n\x1a\n" + bytes(100))
    body = bytearray(container.pack(HEADER, [b"a"])[:-4])
    body[4] = 99
    future = bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))
    with pytest.raises(FormatError, match="version 99"):
        container.unpack(future)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(blob):
    for data in (blob, container.MAGIC + blob, _with_crc(container.MAGIC + bytes([1]) + blob)):
        try:
            container.unpack(data)
        except FormatError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_files_with_valid_checksum(data):
    """Mutations that keep a valid CRC reach the field checks: only FormatError may come out."""
    body = bytearray(container.pack(HEADER, [b"abc" * 7, b"xy"])[:-4])
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(body) - 1))
        body[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    try:
        container.unpack(_with_crc(bytes(body[:cut])))
    except FormatError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.lists(st.binary(min_size=0, max_size=512), min_size=2, max_size=2),
       height=st.integers(1, 200), width=st.integers(1, 200))
def test_fuzz_decoder_with_well_formed_but_garbage_files(base_codec, payload, height, width):
    """A crafted file with a valid checksum and random entropy-coded strings never crashes the
    decoder with anything but the package's own errors."""
    ph, pw = -(-height // 64) * 64, -(-width // 64) * 64
    header = container.SlicHeader(base_codec.name, base_codec.digest, 4, height, width, ph - height,
                                  pw - width, (ph // 64, pw // 64))
    try:
        out = base_codec.decode(container.pack(header, payload), output="array")
        assert out.shape == (height, width, 3)
    except SlicError:
        pass


def test_inconsistent_geometry_is_refused(base_codec):
    header = container.SlicHeader(base_codec.name, base_codec.digest, 4, 64, 64, 0, 0, (5, 5))
    with pytest.raises(FormatError, match="inconsistent"):
        base_codec.decode(container.pack(header, [b"a", b"b"]))


CRAFTED_FILES_SCRIPT = """
import random, sys
import slic
from slic.format import container
from slic.errors import SlicError
codec = slic.load_codec("bmshj2018-hyperprior-q4-cpu14k")
if sys.argv[2] == "unguarded":
    codec._zero_tailed = lambda strings, header: strings
rng = random.Random(int(sys.argv[1]))
for _ in range(150):
    h, w = rng.randint(1, 200), rng.randint(1, 200)
    ph, pw = -(-h // 64) * 64, -(-w // 64) * 64
    payload = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))) for _ in range(2)]
    header = container.SlicHeader(codec.name, codec.digest, 4, h, w, ph - h, pw - w, (ph // 64, pw // 64))
    try:
        assert codec.decode(container.pack(header, payload), output="array").shape == (h, w, 3)
    except SlicError:
        pass
print("survived")
"""


@pytest.mark.parametrize("seed", [1, 2])
def test_garbage_strings_cannot_crash_the_rans_decoder(tmp_path, seed):
    """Regression: crafted files (valid checksum and geometry, random entropy-coded strings) made
    CompressAI's rANS decoder read past its buffer and segfault; seeds 1 and 2 crashed within these
    150 cases before Codec._zero_tailed. Run in a fresh process so a crash is a failure, not the
    end of the test session, and so the memory layout matches the one that crashed."""
    import subprocess
    import sys

    script = tmp_path / "crafted.py"
    script.write_text(CRAFTED_FILES_SCRIPT)
    mode = "unguarded" if os.environ.get("SLIC_TEST_UNGUARDED") else "guarded"
    proc = subprocess.run([sys.executable, str(script), str(seed), mode], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0 and "survived" in proc.stdout, f"decoder died with code {proc.returncode}"
