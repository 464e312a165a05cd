"""The watermark payload code (format/payload.py): BCH + CRC round trips with injected errors, and the
user's ways of giving a payload."""

import numpy as np
import pytest

from slic.errors import InputError
from slic.format import payload as P


def _flip(raw, count, rng, coded_only=True):
    out = raw.copy()
    idx = rng.choice(P.PAYLOAD_BITS + P.CRC_BITS + P.ecc_bits() if coded_only else P.RAW_BITS, count, replace=False)
    out[idx] ^= 1
    return out


def test_layout_fits_128_raw_bits():
    assert P.PAYLOAD_BITS >= 40
    assert P.PAYLOAD_BITS + P.CRC_BITS + P.ecc_bits() <= P.RAW_BITS
    assert P.ecc_bits() == 21  # bchlib.BCH(3, m=7): 21 ecc bits, not ecc_bytes * 8 = 24


@pytest.mark.parametrize("errors", [0, 1, 2, P.BCH_T])
def test_round_trip_corrects_up_to_t_errors(errors):
    rng = np.random.default_rng(errors)
    for _ in range(50):
        payload = bytes(rng.integers(0, 256, P.PAYLOAD_BYTES, dtype=np.uint8))
        raw = P.encode_payload(payload)
        assert raw.shape == (P.RAW_BITS,) and set(np.unique(raw)) <= {0, 1}
        decoded = P.decode_bits(_flip(raw, errors, rng))
        assert decoded.payload == payload and decoded.corrected_bits == errors


def test_beyond_t_errors_never_gives_a_wrong_payload():
    rng = np.random.default_rng(1)
    payload = b"\x5a\x1c\x0f\xfe\xe0"
    raw = P.encode_payload(payload)
    outcomes = {"right": 0, "wrong": 0, "none": 0}
    for _ in range(3000):
        decoded = P.decode_bits(_flip(raw, int(rng.integers(P.BCH_T + 1, 20)), rng))
        key = "none" if decoded.payload is None else "right" if decoded.payload == payload else "wrong"
        outcomes[key] += 1
    assert outcomes["wrong"] == 0 and outcomes["none"] > 2900 and outcomes["right"] == 0


def test_random_and_constant_words_do_not_decode():
    rng = np.random.default_rng(2)
    words = [np.zeros(P.RAW_BITS, np.uint8), np.ones(P.RAW_BITS, np.uint8)]
    words += [rng.integers(0, 2, P.RAW_BITS).astype(np.uint8) for _ in range(5000)]
    assert all(P.decode_bits(w).payload is None for w in words)


@pytest.mark.parametrize("value, expected", [
    ("0x5a1c0ffee0", bytes.fromhex("5a1c0ffee0")),
    ("0xDEADBEEF", bytes.fromhex("00deadbeef")),
    ("slic", b"slic\0"),
    (b"\x01\x02", b"\x01\x02\0\0\0"),
    (0xDEADBEEF, bytes.fromhex("00deadbeef")),
])
def test_parse_watermark(value, expected):
    assert P.parse_watermark(value) == expected


@pytest.mark.parametrize("value", ["0x", "0x123456789ab", "0xZZ", "toolong", "", b"", b"123456", -1, 1 << 40, True, 1.5])
def test_bad_watermarks_are_one_line_errors(value):
    with pytest.raises(InputError) as err:
        P.parse_watermark(value)
    assert "\n" not in str(err.value)


def test_payload_text():
    assert P.payload_text(b"slic\0") == "slic"
    assert P.payload_text(bytes.fromhex("5a1c0ffee0")) is None


def test_soft_decoding_reads_errors_beyond_bch_among_the_weakest_bits():
    payload = b"\x5a\x1c\x0f\xfe\xe0"
    raw = P.encode_payload(payload).astype(np.float64)
    llr = (raw * 2 - 1) * 3.0
    wrong = [3, 17, 40, 61, 70]  # t + 2 = 5 errors: hard BCH cannot read them
    llr[wrong] *= -1
    assert P.decode_bits((llr > 0).astype(np.uint8)).payload is None
    llr[wrong[:2]] *= 0.1  # two of them are among the least reliable bits
    llr[wrong[2:]] *= 0.2
    found = P.decode_soft(llr)
    assert found.payload == payload and found.corrected_bits >= len(wrong)


def test_soft_decoding_of_noise_gives_no_payload():
    rng = np.random.default_rng(5)
    assert all(P.decode_soft(rng.normal(0, 1, P.RAW_BITS)).payload is None for _ in range(3000))
