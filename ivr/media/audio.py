"""Caller audio between the wire and a recognizer: byte order, PCM <-> float, resampling.

Telephone audio is 8 kHz; recognizers want 16 kHz. Repeating each sample ("naive 2x") leaves
a mirror image of the whole 0-4 kHz band in 4-8 kHz, which the recognizer hears as noise
(bench/README.md measures what that costs). The resampler here is a Kaiser-windowed sinc,
evaluated polyphase: nothing above the source's Nyquist frequency survives (-90 dB).

`Resampler` is the streaming form for 20 ms RTP frames: its state carries across frames, so a
call resampled frame by frame gives exactly the samples of the whole recording resampled at
once (`resample`), only 2 ms later (half the filter).

Byte order: Asterisk sends slin16 over RTP big-endian (network order); WAV files and
recognizers use little-endian.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Signal: TypeAlias = npt.NDArray[np.float64]

_KAISER_BETA = 9.0  # ~90 dB stop band
_CUTOFF = 0.475  # of the lower Nyquist frequency: a little under it, for the transition band


# ----- byte order and sample formats
def swap16(data: bytes) -> bytes:
    """Swap the bytes of every 16-bit sample (big-endian RTP slin16 <-> little-endian)."""
    if len(data) % 2:
        raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<u2").byteswap().tobytes()


def be_to_le(data: bytes) -> bytes:
    """slin16 from RTP (big-endian) as a recognizer wants it (little-endian).

    A swap whatever the host's own byte order: both ends of it are fixed by formats.
    """
    return swap16(data)


def pcm16_to_float(data: bytes, byteorder: str = "little") -> Signal:
    """16-bit signed PCM bytes as float samples in [-1, 1)."""
    dtype = "<i2" if byteorder == "little" else ">i2"
    return np.frombuffer(data, dtype=dtype).astype(np.float64) / 32768.0


def float_to_pcm16(x: Signal, byteorder: str = "little") -> bytes:
    """Float samples as 16-bit signed PCM bytes (rounded, clipped at full scale)."""
    dtype = "<i2" if byteorder == "little" else ">i2"
    return np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767).astype(dtype).tobytes()


# ----- resampling
class Resampler:
    """Streaming rational-ratio resampler (Kaiser-windowed sinc, polyphase).

    `process()` returns every output sample whose filter window is complete; `flush()` ends
    the stream with the remainder (as if zeros followed). Output length over a whole stream is
    ceil(n * dst / src), time-aligned with the input (no delay in the samples themselves).
    """

    def __init__(self, src_rate: int, dst_rate: int, zero_crossings: int = 16) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive: {src_rate} -> {dst_rate}")
        self.src_rate, self.dst_rate = src_rate, dst_rate
        g = math.gcd(src_rate, dst_rate)
        self.up, self.down = dst_rate // g, src_rate // g
        wide = max(self.up, self.down)
        cutoff = _CUTOFF / wide  # cycles per sample at the upsampled rate
        self._half = zero_crossings * wide
        n = np.arange(-self._half, self._half + 1, dtype=np.float64)
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(n.size, _KAISER_BETA) * self.up
        self._taps = -(-h.size // self.up)
        self._h = np.concatenate([h, np.zeros(self._taps * self.up - h.size)])
        self._buf: Signal = np.zeros(self._taps)  # input samples from index self._base on
        self._base = -self._taps
        self._n_in = 0
        self._n_out = 0

    @property
    def delay_s(self) -> float:
        """How long an input sample waits before its outputs can be computed (look-ahead)."""
        return self._half / self.up / self.src_rate

    def process(self, x: Signal) -> Signal:
        """Resample the next piece of the stream."""
        x = np.asarray(x, dtype=np.float64)
        if self.up == self.down:
            return x.copy()
        self._buf = np.concatenate([self._buf, x])
        self._n_in += x.size
        return self._emit(self._n_in, None)

    def flush(self) -> Signal:
        """The last samples of the stream; the resampler starts a new stream afterwards."""
        if self.up == self.down:
            return np.zeros(0)
        total = -(-self._n_in * self.up // self.down)
        pad = self._half // self.up + self._taps + 1
        self._buf = np.concatenate([self._buf, np.zeros(pad)])
        y = self._emit(self._n_in + pad, total)
        self._buf, self._base, self._n_in, self._n_out = np.zeros(self._taps), -self._taps, 0, 0
        return y

    def _emit(self, available: int, limit: int | None) -> Signal:
        up, down = self.up, self.down
        end = (available * up - 1 - self._half) // down + 1  # outputs whose window is complete
        if limit is not None:
            end = min(end, limit)
        if end <= self._n_out:
            return np.zeros(0)
        t = np.arange(self._n_out, end, dtype=np.int64) * down + self._half
        last = t // up  # the newest input sample under the filter
        phase = t - last * up
        index = last - self._base
        y = np.zeros(t.size)
        for k in range(self._taps):
            y += self._buf[index - k] * self._h[phase + k * up]
        self._n_out = end
        keep = (self._n_out * down + self._half) // up - self._taps + 1 - self._base
        if keep > 0:
            self._buf = self._buf[keep:]
            self._base += keep
        return y


def resample(x: Signal, src_rate: int, dst_rate: int, zero_crossings: int = 16) -> Signal:
    """A whole signal resampled at once (same samples as `Resampler` frame by frame)."""
    x = np.asarray(x, dtype=np.float64)
    if src_rate == dst_rate or x.size == 0:
        return x.copy()
    r = Resampler(src_rate, dst_rate, zero_crossings)
    return np.concatenate([r.process(x), r.flush()])


class PcmResampler:
    """16-bit little-endian PCM frames in, 16-bit little-endian PCM frames out, streaming:
    what sits between an 8 kHz call and a 16 kHz recognizer."""

    def __init__(self, src_rate: int = 8000, dst_rate: int = 16000) -> None:
        self._r = Resampler(src_rate, dst_rate)

    def process(self, pcm_le: bytes) -> bytes:
        return float_to_pcm16(self._r.process(pcm16_to_float(pcm_le)))

    def flush(self) -> bytes:
        return float_to_pcm16(self._r.flush())


class BandNoise:
    """Steady white noise confined to a band (by default 4-8 kHz at 16 kHz), added to PCM.

    Telephone speech resampled to 16 kHz has nothing above 4 kHz, where a wide-band acoustic
    model always saw some energy; its filters there read near-zero log energies it was never
    trained on. A floor of noise in that band only, far below speech, brings them back into
    range (bench/README.md: +3 points of digit accuracy with pocketsphinx, level anywhere in
    -60..-30 dBFS). The noise is one second long, built in the frequency domain so that it
    loops without a seam; each stream keeps its own position in it.
    """

    def __init__(self, dbfs: float, low_hz: float = 4000.0, rate: int = 16000,
                 seed: int = 0) -> None:
        n = rate
        freqs = np.fft.rfftfreq(n, 1 / rate)
        band = (freqs > low_hz) & (freqs < rate / 2)
        phases = np.random.default_rng(seed).random(int(band.sum()))
        spectrum = np.zeros(freqs.size, dtype=np.complex128)
        spectrum[band] = np.exp(2j * np.pi * phases)
        loop = np.fft.irfft(spectrum, n)
        self._loop: Signal = loop * (10 ** (dbfs / 20) / np.sqrt(np.mean(loop**2)) * 32768)

    def add(self, pcm_le: bytes, position: int) -> bytes:
        """`pcm_le` (16-bit little-endian) with the noise from sample `position` of the
        stream on."""
        x = np.frombuffer(pcm_le, dtype="<i2").astype(np.float64)
        index = (position + np.arange(x.size)) % self._loop.size
        return np.clip(np.round(x + self._loop[index]), -32768, 32767).astype("<i2").tobytes()


def speech_level_dbfs(pcm_le: bytes, rate: int = 16000, loudest_ms: int = 200) -> float:
    """How loud the speech in 16-bit little-endian PCM is: the power of its loudest
    `loudest_ms` (in 20 ms frames), in dBFS; -120 for silence. Pauses and the silence around
    an answer do not change it, as they would a mean or a percentile."""
    x = pcm16_to_float(pcm_le)
    frame = rate // 50
    if x.size < frame:
        return -120.0
    power = np.mean(x[: x.size // frame * frame].reshape(-1, frame) ** 2, axis=1)
    loudest = np.sort(power)[-max(1, loudest_ms // 20):]
    level = float(np.mean(loudest))
    return max(-120.0, 10 * math.log10(level)) if level > 0 else -120.0


def scale_pcm16(pcm_le: bytes, gain_db: float) -> bytes:
    """16-bit little-endian PCM made `gain_db` louder (clipped at full scale)."""
    return float_to_pcm16(pcm16_to_float(pcm_le) * 10 ** (gain_db / 20))
