"""The audio path from a call to a recognizer: byte order and 8 -> 16 kHz resampling.

Naive upsampling (each sample twice) mirrors the 0-4 kHz band into 4-8 kHz; the recognizer
hears that image as noise. The resampler must keep the tone and leave nothing above 4 kHz, and
give the same samples whether fed 20 ms frames or the whole signal.
"""

from __future__ import annotations

import numpy as np
import pytest

from ivr.media.audio import (
    BandNoise,
    PcmResampler,
    Resampler,
    be_to_le,
    float_to_pcm16,
    pcm16_to_float,
    resample,
    scale_pcm16,
    speech_level_dbfs,
    swap16,
)


def _tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def _band_power(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_8k_to_16k_keeps_frequency_and_amplitude_without_images() -> None:
    x = _tone(1000, 1.0, 8000)
    y = resample(x, 8000, 16000)
    assert y.size == 16000
    core = y[800:-800]
    spectrum = np.abs(np.fft.rfft(core))
    assert np.argmax(spectrum) * 16000 / core.size == pytest.approx(1000, abs=2)
    amplitude = np.sqrt(2 * np.mean(core**2))
    assert amplitude == pytest.approx(0.5, rel=0.005)
    image = _band_power(core, 16000, 4000, 8000)  # the mirror image would be at 7 kHz
    assert 10 * np.log10(image / _band_power(core, 16000, 0, 4000)) < -80
    naive = np.repeat(x, 2)[800:-800]
    assert 10 * np.log10(_band_power(naive, 16000, 4000, 8000)
                         / _band_power(naive, 16000, 0, 4000)) > -20


def test_samples_line_up_in_time() -> None:
    """An impulse at input sample n comes out centred on output sample 2n."""
    x = np.zeros(400)
    x[100] = 1.0
    y = resample(x, 8000, 16000)
    assert int(np.argmax(y)) == 200


def test_streaming_frames_give_the_same_samples_as_the_whole_signal() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.1, 8000 + 37)
    whole = resample(x, 8000, 16000)
    r = Resampler(8000, 16000)
    pieces = [r.process(x[i:i + 160]) for i in range(0, x.size, 160)]
    streamed = np.concatenate([*pieces, r.flush()])
    np.testing.assert_allclose(streamed, whole, atol=1e-12)
    # past the first frame (the filter looks 2 ms ahead), 20 ms in gives 20 ms out
    assert all(p.size == 320 for p in pieces[1:-1])
    assert r.delay_s == pytest.approx(0.002)


def test_other_ratios_through_the_same_code() -> None:
    y = resample(_tone(1000, 1.0, 22050), 22050, 8000)
    assert y.size == 8000
    assert np.sqrt(2 * np.mean(y[400:-400] ** 2)) == pytest.approx(0.5, rel=0.01)
    assert resample(np.zeros(0), 8000, 16000).size == 0


def test_byte_order() -> None:
    samples = np.array([1, -2, 0x1234, -32768, 32767], dtype=np.int16)
    big = samples.astype(">i2").tobytes()
    little = samples.astype("<i2").tobytes()
    assert big[:2] == b"\x00\x01" and little[:2] == b"\x01\x00"
    assert be_to_le(big) == little
    assert swap16(swap16(little)) == little
    with pytest.raises(ValueError, match="even number"):
        swap16(b"\x00\x01\x02")
    np.testing.assert_array_equal(pcm16_to_float(big, "big") * 32768, samples)
    assert float_to_pcm16(pcm16_to_float(little)) == little
    assert float_to_pcm16(np.array([2.0, -2.0])) == np.array([32767, -32768], "<i2").tobytes()


def test_pcm_resampler_frames() -> None:
    x = _tone(440, 0.2, 8000, amp=0.3)
    pcm = float_to_pcm16(x)
    r = PcmResampler(8000, 16000)
    out = b"".join(r.process(pcm[i:i + 320]) for i in range(0, len(pcm), 320)) + r.flush()
    assert len(out) == 2 * len(pcm)
    y = pcm16_to_float(out)
    assert np.sqrt(2 * np.mean(y[200:-200] ** 2)) == pytest.approx(0.3, rel=0.01)


def test_band_noise_stays_in_its_band_at_its_level_and_loops_seamlessly() -> None:
    noise = BandNoise(-40.0)
    silence = b"\x00\x00" * 32000
    whole = pcm16_to_float(noise.add(silence, 0))
    assert 20 * np.log10(np.sqrt(np.mean(whole**2))) == pytest.approx(-40.0, abs=0.2)
    assert 10 * np.log10(_band_power(whole, 16000, 0, 3900)
                         / _band_power(whole, 16000, 4100, 8000)) < -40
    pieces = b"".join(noise.add(silence[i:i + 640], i // 2) for i in range(0, len(silence), 640))
    assert pieces == noise.add(silence, 0)  # the position carries it across frames and loops
    speech = float_to_pcm16(_tone(1000, 0.5, 16000, amp=0.1))
    mixed = pcm16_to_float(noise.add(speech, 0))
    assert _band_power(mixed, 16000, 900, 1100) == pytest.approx(
        _band_power(pcm16_to_float(speech), 16000, 900, 1100), rel=0.01)


def test_speech_level_ignores_the_silence_around_speech() -> None:
    tone = _tone(500, 0.5, 16000, amp=0.1)  # RMS 0.0707: -23 dBFS
    alone = speech_level_dbfs(float_to_pcm16(tone))
    padded = speech_level_dbfs(float_to_pcm16(np.concatenate([np.zeros(16000), tone,
                                                               np.zeros(32000)])))
    assert alone == pytest.approx(-23.0, abs=0.1) and padded == pytest.approx(alone, abs=0.1)
    assert speech_level_dbfs(b"\x00\x00" * 1600) == -120.0
    assert speech_level_dbfs(scale_pcm16(float_to_pcm16(tone), -12)) == pytest.approx(
        alone - 12, abs=0.1)
