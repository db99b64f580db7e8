"""Fragmented MP4 (CMAF) boxes for an H.264 video track and an AAC audio track, by hand.

The relay's H.264 frames are Annex B access units (start codes); an fMP4
sample is the same NAL units length-prefixed (AVCC). :func:`init_segment`
writes ``ftyp`` + ``moov`` (an ``avc1`` sample entry with the show's SPS and
PPS); :func:`fragment` writes one ``moof`` + ``mdat``: a self-contained CMAF
fragment, which is what an LL-HLS part is. No re-encoding and no muxer state:
a few byte joins per part.

With :class:`AudioConfig` the init segment has a second track (``mp4a`` with
an ``esds`` holding the AAC AudioSpecificConfig, 48 kHz timescale) and each
fragment a second ``traf`` (its own ``tfdt``): audio and video muxed in the
same parts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AUDIO_TIMESCALE",
    "TIMESCALE",
    "AudioConfig",
    "AudioRun",
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
#: The audio track's timescale: its sample rate (Opus and the AAC made from it are 48 kHz).
AUDIO_TIMESCALE = 48_000
_TRACK_ID = 1
_AUDIO_TRACK_ID = 2
_NAL_SPS, _NAL_PPS, _NAL_AUD = 7, 8, 9


@dataclass(frozen=True, slots=True)
class Sample:
    """One video frame: AVCC bytes, its duration (timescale units), whether it is a keyframe."""

    data: bytes
    duration: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """The AAC-LC track of a show: channels (1 or 2) at :data:`AUDIO_TIMESCALE`."""

    channels: int

    @property
    def specific_config(self) -> bytes:
        """The AudioSpecificConfig (ISO 14496-3): AAC-LC, 48 kHz, the channel count."""
        frequency_index = 3  # 48000 Hz
        return struct.pack(">H", 2 << 11 | frequency_index << 7 | self.channels << 3)


@dataclass(frozen=True, slots=True)
class AudioRun:
    """A part's audio: AAC frames (raw, no ADTS) from ``base_time`` (48 kHz ticks),
    each ``frame_duration`` long."""

    base_time: int
    frames: Sequence[bytes]
    frame_duration: int = 1024


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


def init_segment(
    sps: bytes, pps: bytes, width: int, height: int, audio: AudioConfig | None = None
) -> bytes:
    """``ftyp`` + ``moov``: the ``avc1`` track, and the ``mp4a`` one with ``audio``
    (the EXT-X-MAP of the show)."""
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
        struct.pack(">I", _AUDIO_TRACK_ID + 1),
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
    stbl = _box(b"stbl", _full(b"stsd", 0, 0, struct.pack(">I", 1), avc1), *_EMPTY_TABLES)
    minf = _box(b"minf", vmhd, _box(b"dinf", dref), stbl)
    traks = [_box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))]
    trexes = [_full(b"trex", 0, 0, struct.pack(">IIIII", _TRACK_ID, 1, 0, 0, 0))]
    if audio is not None:
        traks.append(_audio_trak(audio))
        trexes.append(_full(b"trex", 0, 0, struct.pack(">IIIII", _AUDIO_TRACK_ID, 1, 0, 0, 0)))
    moov = _box(b"moov", mvhd, *traks, _box(b"mvex", *trexes))
    return ftyp + moov


_EMPTY_TABLES = (
    _full(b"stts", 0, 0, struct.pack(">I", 0)),
    _full(b"stsc", 0, 0, struct.pack(">I", 0)),
    _full(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
    _full(b"stco", 0, 0, struct.pack(">I", 0)),
)


def _descriptor(tag: int, *payload: bytes) -> bytes:
    body = b"".join(payload)
    assert len(body) < 0x80  # one length byte (ISO 14496-1 expandable size)
    return bytes([tag, len(body)]) + body


def _audio_trak(audio: AudioConfig) -> bytes:
    """The ``trak`` of the AAC-LC track (``mp4a`` + ``esds``, ISO 14496-14)."""
    tkhd = _full(
        b"tkhd",
        0,
        0x7,
        struct.pack(">IIIII", 0, 0, _AUDIO_TRACK_ID, 0, 0),
        bytes(8),
        struct.pack(">HHHH", 0, 1, 0x0100, 0),  # layer, alternate group 1, volume 1.0
        _MATRIX,
        struct.pack(">II", 0, 0),
    )
    mdhd = _full(
        b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, AUDIO_TIMESCALE, 0), struct.pack(">HH", 0x55C4, 0)
    )
    hdlr = _full(b"hdlr", 0, 0, struct.pack(">I", 0), b"soun", bytes(12), b"SoundHandler\x00")
    smhd = _full(b"smhd", 0, 0, struct.pack(">HH", 0, 0))
    dref = _full(b"dref", 0, 0, struct.pack(">I", 1), _full(b"url ", 0, 1))
    decoder_config = _descriptor(
        0x04,
        bytes([0x40, 0x05 << 2 | 1]),  # MPEG-4 audio, an audio stream
        bytes(3),  # buffer size
        struct.pack(">II", 0, 0),  # max and average bitrate: not stated
        _descriptor(0x05, audio.specific_config),
    )
    esds = _full(
        b"esds",
        0,
        0,
        _descriptor(0x03, struct.pack(">HB", 0, 0), decoder_config, _descriptor(0x06, b"\x02")),
    )
    mp4a = _box(
        b"mp4a",
        bytes(6),
        struct.pack(">H", 1),  # data reference index
        bytes(8),
        struct.pack(">HHHH", audio.channels, 16, 0, 0),
        struct.pack(">I", AUDIO_TIMESCALE << 16),
        esds,
    )
    stbl = _box(b"stbl", _full(b"stsd", 0, 0, struct.pack(">I", 1), mp4a), *_EMPTY_TABLES)
    minf = _box(b"minf", smhd, _box(b"dinf", dref), stbl)
    return _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))


# Sample flags (ISO 14496-12 §8.8.3.1): a sync sample depends on nothing; others
# depend on earlier samples and are "non-sync".
_SYNC = 0x02000000
_NON_SYNC = 0x01010000


def _traf(
    track_id: int, base_time: int, trun_flags: int, count: int, entries: bytes, offset: int
) -> bytes:
    trun = _full(b"trun", 0, trun_flags, struct.pack(">Ii", count, offset), entries)
    tfhd = _full(b"tfhd", 0, 0x020000, struct.pack(">I", track_id))  # default-base-is-moof
    tfdt = _full(b"tfdt", 1, 0, struct.pack(">Q", base_time))
    return _box(b"traf", tfhd, tfdt, trun)


def fragment(
    sequence: int, base_time: int, samples: Sequence[Sample], audio: AudioRun | None = None
) -> bytes:
    """One ``moof`` + ``mdat``: ``samples`` starting at decode time ``base_time``, and
    ``audio`` (if it has frames) in a second ``traf``; the ``mdat`` holds the video
    samples, then the audio frames."""
    video_flags = 0x000001 | 0x000100 | 0x000200 | 0x000400  # offset, duration, size, flags
    entries = b"".join(
        struct.pack(">III", s.duration, len(s.data), _SYNC if s.keyframe else _NON_SYNC)
        for s in samples
    )
    video_bytes = sum(len(s.data) for s in samples)
    frames = audio.frames if audio is not None else ()
    audio_entries = b"".join(
        struct.pack(">II", audio.frame_duration, len(f)) for f in frames if audio is not None
    )

    def build(data_offset: int) -> bytes:
        mfhd = _full(b"mfhd", 0, 0, struct.pack(">I", sequence))
        trafs = [_traf(_TRACK_ID, base_time, video_flags, len(samples), entries, data_offset)]
        if audio is not None and frames:
            offset = data_offset + video_bytes
            trafs.append(
                _traf(_AUDIO_TRACK_ID, audio.base_time, 0x301, len(frames), audio_entries, offset)
            )  # offset, duration, size (audio frames are all sync samples: trex's default)
        return _box(b"moof", mfhd, *trafs)

    moof = build(0)
    moof = build(len(moof) + 8)  # the first sample's offset from the moof's start
    payload = b"".join(s.data for s in samples) + b"".join(frames)
    return moof + struct.pack(">I", 8 + len(payload)) + b"mdat" + payload
