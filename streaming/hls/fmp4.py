"""Fragmented MP4 (CMAF) boxes for one H.264 video track, written by hand.

The relay's H.264 frames are Annex B access units (start codes); an fMP4
sample is the same NAL units length-prefixed (AVCC). :func:`init_segment`
writes ``ftyp`` + ``moov`` (an ``avc1`` sample entry with the show's SPS and
PPS); :func:`fragment` writes one ``moof`` + ``mdat``: a self-contained CMAF
fragment, which is what an LL-HLS part is. No re-encoding and no muxer state:
a few byte joins per part.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "TIMESCALE",
    "Sample",
    "annexb_nals",
    "avcc_sample",
    "codec_string",
    "fragment",
    "init_segment",
    "parameter_sets",
]

#: The media timescale: RTP's 90 kHz video clock, so relay timestamps are used as they are.
TIMESCALE = 90_000
_TRACK_ID = 1
_NAL_SPS, _NAL_PPS, _NAL_AUD = 7, 8, 9


@dataclass(frozen=True, slots=True)
class Sample:
    """One video frame: AVCC bytes, its duration (timescale units), whether it is a keyframe."""

    data: bytes
    duration: int
    keyframe: bool


def annexb_nals(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit (start codes of 3 or 4 bytes)."""
    nals: list[bytes] = []
    start = -1
    i, n = 0, len(data)
    while i + 2 < n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if start >= 0:
                end = i - 1 if i > 0 and data[i - 1] == 0 else i
                nals.append(data[start:end])
            i += 3
            start = i
            continue
        i += 1
    if start >= 0 and start < n:
        nals.append(data[start:])
    elif start < 0 and data:
        nals.append(data)  # already a bare NAL unit
    return [nal for nal in nals if nal]


def avcc_sample(nals: Iterable[bytes]) -> bytes:
    """NAL units as one AVCC sample (4-byte lengths); access unit delimiters left out."""
    return b"".join(struct.pack(">I", len(nal)) + nal for nal in nals if nal[0] & 0x1F != _NAL_AUD)


def parameter_sets(nals: Sequence[bytes]) -> tuple[bytes, bytes] | None:
    """The first SPS and PPS among ``nals``, None unless both are there."""
    sps = next((n for n in nals if n[0] & 0x1F == _NAL_SPS), None)
    pps = next((n for n in nals if n[0] & 0x1F == _NAL_PPS), None)
    return None if sps is None or pps is None else (sps, pps)


def codec_string(sps: bytes) -> str:
    """The RFC 6381 codec of the stream (``avc1.42e01f``), for the playlist's CODECS."""
    return f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def init_segment(sps: bytes, pps: bytes, width: int, height: int) -> bytes:
    """``ftyp`` + ``moov`` for one ``avc1`` track (the EXT-X-MAP of the show)."""
    ftyp = _box(b"ftyp", b"iso6", struct.pack(">I", 0), b"iso6cmfcmp41avc1dash")
    mvhd = _full(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, 1000, 0),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", _TRACK_ID + 1),
    )
    tkhd = _full(
        b"tkhd",
        0,
        0x7,  # enabled, in movie, in preview
        struct.pack(">IIIII", 0, 0, _TRACK_ID, 0, 0),
        bytes(8),
        struct.pack(">HHHH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full(
        b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, 0), struct.pack(">HH", 0x55C4, 0)
    )
    hdlr = _full(b"hdlr", 0, 0, struct.pack(">I", 0), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = _full(b"vmhd", 0, 1, bytes(8))
    dref = _full(b"dref", 0, 0, struct.pack(">I", 1), _full(b"url ", 0, 1))
    avcc = _box(
        b"avcC",
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    )
    avc1 = _box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data reference index
        bytes(16),
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x00480000, 0x00480000),
        struct.pack(">I", 0),
        struct.pack(">H", 1),
        bytes(32),
        struct.pack(">H", 0x0018),
        struct.pack(">h", -1),
        avcc,
    )
    stsd = _full(b"stsd", 0, 0, struct.pack(">I", 1), avc1)
    empty_tables = [
        _full(b"stts", 0, 0, struct.pack(">I", 0)),
        _full(b"stsc", 0, 0, struct.pack(">I", 0)),
        _full(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        _full(b"stco", 0, 0, struct.pack(">I", 0)),
    ]
    stbl = _box(b"stbl", stsd, *empty_tables)
    minf = _box(b"minf", vmhd, _box(b"dinf", dref), stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    trex = _full(b"trex", 0, 0, struct.pack(">IIIII", _TRACK_ID, 1, 0, 0, 0))
    moov = _box(b"moov", mvhd, trak, _box(b"mvex", trex))
    return ftyp + moov


# Sample flags (ISO 14496-12 §8.8.3.1): a sync sample depends on nothing; others
# depend on earlier samples and are "non-sync".
_SYNC = 0x02000000
_NON_SYNC = 0x01010000


def fragment(sequence: int, base_time: int, samples: Sequence[Sample]) -> bytes:
    """One ``moof`` + ``mdat``: ``samples`` starting at decode time ``base_time``."""
    flags = 0x000001 | 0x000100 | 0x000200 | 0x000400  # offset, duration, size, flags
    entries = b"".join(
        struct.pack(">III", s.duration, len(s.data), _SYNC if s.keyframe else _NON_SYNC)
        for s in samples
    )

    def build(data_offset: int) -> bytes:
        trun = _full(b"trun", 0, flags, struct.pack(">Ii", len(samples), data_offset), entries)
        tfhd = _full(b"tfhd", 0, 0x020000, struct.pack(">I", _TRACK_ID))  # default-base-is-moof
        tfdt = _full(b"tfdt", 1, 0, struct.pack(">Q", base_time))
        mfhd = _full(b"mfhd", 0, 0, struct.pack(">I", sequence))
        return _box(b"moof", mfhd, _box(b"traf", tfhd, tfdt, trun))

    moof = build(0)
    moof = build(len(moof) + 8)  # the first sample's offset from the moof's start
    payload = b"".join(s.data for s in samples)
    return moof + struct.pack(">I", 8 + len(payload)) + b"mdat" + payload
