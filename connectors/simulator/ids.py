"""Deterministic identifiers and pseudo-random numbers.

Every id the simulator shows (workspace ids, run ids, trace and correlation ids) is a hash of
the scenario seed and a stable key, so the same seed and the same clock give the same payloads.
Per-run noise (start jitter, duration) comes from ``mix64``, a pure-integer mixer that is much
cheaper than a cryptographic hash: the scale scenario derives tens of thousands of runs per page.

Ids that must be looked up again (run ids, generated workspace and dataset ids) carry a number
in their last 48 bits (``indexed_uuid``/``uuid_index``), so a lookup is arithmetic plus one
re-derivation to check the rest of the id, not a table of 100,000 entries.
"""

from __future__ import annotations

import functools
import hashlib
import uuid

MASK64 = (1 << 64) - 1
INDEX_BITS = 48


def stable_int(*parts: object) -> int:
    """A 64-bit integer derived from ``parts`` (their ``str`` forms, joined)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _format_uuid(value: int) -> str:
    # Set the version (4) and variant (10xx) bits so the ids look like real GUIDs.
    value &= ~(0xF << 76)
    value |= 0x4 << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62
    h = f"{value & ((1 << 128) - 1):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _hash128(parts: tuple[object, ...]) -> int:
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "big")


def stable_uuid(*parts: object) -> str:
    return _format_uuid(_hash128(parts))


_LOW = (1 << INDEX_BITS) - 1
_ODD = 0x9E3779B97F4B  # any odd multiplier is a bijection modulo 2**48
_ODD_INVERSE = pow(_ODD, -1, 1 << INDEX_BITS)


def _scramble(value: int) -> int:
    """A bijection on 48 bits, so consecutive indexes do not give look-alike ids."""
    value = (value * _ODD) & _LOW
    return value ^ (value >> 24)


def _unscramble(value: int) -> int:
    value ^= value >> 24
    return (value * _ODD_INVERSE) & _LOW


def indexed_uuid(index: int, *parts: object) -> str:
    """A GUID that carries ``index`` (recoverable with ``uuid_index``); the rest hashes ``parts``."""
    if not 0 <= index <= _LOW:
        raise ValueError(f"index out of range: {index}")
    return _format_uuid((_hash128((index, *parts)) & ~_LOW) | _scramble(index))


def fast_uuid(salt: int, value: int) -> str:
    """A GUID from two integers via ``mix64`` (for ids minted in bulk, e.g. per run)."""
    return _format_uuid((mix64(salt ^ value) << 64) | mix64((salt + 1) ^ value))


@functools.lru_cache(maxsize=1024)
def salt(*parts: object) -> int:
    """``stable_int`` for a few constant labels, cached."""
    return stable_int(*parts)


def fast_indexed_uuid(index: int, salt: int) -> str:
    """``indexed_uuid`` for bulk generation: the hash part comes from ``mix64``, not BLAKE2."""
    high = (mix64(salt ^ index) << 64) | mix64((salt + 1) ^ index)
    return _format_uuid((high & ~_LOW) | _scramble(index))


def uuid_index(value: str) -> int | None:
    """The number carried by an ``indexed_uuid`` (or None if ``value`` is no GUID)."""
    try:
        return _unscramble(uuid.UUID(value).int & _LOW)
    except ValueError:
        return None


def mix64(value: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)
