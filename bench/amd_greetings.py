"""The labelled greetings bench/amd.py plays into Asterisk's AMD(): people and answering machines.

Everything is made offline and deterministically (the same seed gives the same files, byte for
byte): speech by espeak-ng (English voices and Korean), resampled to 8 kHz by sox, and natural
single words from the Free Spoken Digit Dataset (FSDD, ../shared/data/fsdd; CC BY-SA 4.0, Zohar
Jackson and others, github.com/Jakobovski/free-spoken-digit-dataset). Tones, noise and music are
numpy. The files go to a cache folder outside the clone; nothing here is committed.

    .venv/bin/python bench/amd_greetings.py [--out DIR] [--humans 130] [--machines 130]

People answer with one short phrase or word and then wait (the far end is silent while AMD
listens), some say "Hello?" again after a while, some two short phrases, some pick up slowly,
some are quiet, some in noise. Machines speak a greeting of 3-15 s, then a beep (mostly 1 kHz),
then silence; some start with music or play it under the voice, some pause between sentences.
Each file's labels (where the speech is, where the beep is) are in labels.json beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ivr.app.paths import cache_dir

RATE = 8000
ROOT = Path(__file__).resolve().parents[1]
FSDD = Path(os.environ.get("IVR_FSDD", ROOT.parent / "shared" / "data" / "fsdd"))
OUT = cache_dir() / "amd-greetings"
SEED = 16
EN_VOICES = ("en-us", "en-gb", "en-us+f2", "en-us+m3", "en-gb+f4", "en-us+m7", "en-029+Annie",
             "en-gb-x-rp+f1", "en-us+klatt2", "en-gb-scotland+m2")
KO_VOICES = ("ko", "ko+f2", "ko+m3", "ko+f4")
HUMAN_EN = ("Hello?", "Hello.", "Yes, hello?", "Hi!", "Hi, this is Minji.", "Yeah?", "Hello, who's "
            "calling?", "Good morning!", "Speaking.", "Hey.", "Yes?", "Hello, Kim speaking.",
            "Hi, it's Dan.", "Hello, Park residence.", "Mm, hello?")
HUMAN_KO = ("여보세요?", "네, 여보세요.", "네.", "여보세요, 누구세요?", "네, 말씀하세요.",
            "네, 김민지입니다.", "여보세요오?")
SECOND_EN = ("Hello?", "Who is this?", "Anyone there?", "Yes?")
SECOND_KO = ("여보세요?", "누구세요?", "말씀하세요.")
NAMES = ("Sam and Alex", "Jordan", "Minji Kim", "Daniel", "Priya", "the Garcias",
         "Dr. Lee's office", "Chris", "Jiwoo", "Maria and Tom")
MACHINE_EN = (
    "Hi, you've reached {n}. Please leave a message after the tone.",
    "Hi, you've reached {n}. I can't come to the phone right now. Please leave your name, number "
    "and a short message after the tone, and I'll call you back as soon as I can.",
    "Hello, this is {n}. Sorry I missed your call. Leave a message after the beep.",
    "The person you are trying to reach is not available. At the tone, please record your "
    "message. When you have finished recording, you may hang up.",
    "Hello. You have reached {n}. We are away from the phone. Please leave a message.",
    "Thank you for calling {n}. Our office is closed. Our hours are nine to five, Monday to "
    "Friday. Please leave a message after the tone and we will return your call.",
    "Hey, it's {n}. You know what to do.",
    "Hi. {n} here. Leave a message.",
    "Your call has been forwarded to an automatic voice message system. {n} is not available. "
    "At the tone, please record your message.",
)
MACHINE_KO = (
    "지금은 전화를 받을 수 없습니다. 삐 소리가 나면 메시지를 남겨 주세요.",
    "연결이 되지 않아 음성사서함으로 연결됩니다. 삐 소리 후 메시지를 남겨 주시기 바랍니다.",
    "안녕하세요, 김민지입니다. 지금은 전화를 받을 수 없으니 메시지를 남겨 주세요.",
    "고객님의 전화를 받을 수 없어 음성사서함으로 연결합니다. "
    "녹음이 끝나면 종료 버튼을 눌러 주세요.",
    "안녕하세요. 지금 통화가 어렵습니다. 용건을 남겨 주시면 연락드리겠습니다.",
)


@dataclass
class Greeting:
    """One labelled file: `id` is also the extension bench/amd.py dials (1xxx people,
    2xxx machines); times are seconds from the start of the file, i.e. from the answer."""

    id: int
    label: str  # "human" or "machine"
    kind: str
    lang: str
    text: str
    voice: str
    duration: float = 0.0
    speech: list[tuple[float, float]] = field(default_factory=list)
    beep: tuple[float, float, int] | None = None  # start, end, Hz
    level_dbfs: float = 0.0
    noise_dbfs: float | None = None

    @property
    def speech_end(self) -> float:
        return self.speech[-1][1] if self.speech else 0.0


def tts(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's speech at 8 kHz (sox, no dither), float, trimmed to the voice."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                          "--stdout", text], capture_output=True, check=True).stdout
    raw = subprocess.run(["sox", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e",
                          "signed", "-b", "16", "-c", "1", "-"], input=wav, capture_output=True,
                         check=True).stdout
    return trim(np.frombuffer(raw, "<i2").astype(np.float64) / 32768)


def fsdd(name: str) -> np.ndarray:
    with wave.open(str(FSDD / name)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
    return trim(x)


def trim(x: np.ndarray, floor: float = 0.02) -> np.ndarray:
    """Cut what comes before and after the voice (10 ms windows under `floor` of the peak)."""
    win = x[: x.size // 80 * 80].reshape(-1, 80)
    loud = np.flatnonzero(np.abs(win).max(axis=1) > floor * np.abs(x).max())
    return x[loud[0] * 80: (loud[-1] + 1) * 80] if loud.size else x


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scaled so that its RMS over the voiced part is `dbfs`."""
    win = x[: x.size // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((win**2).mean(axis=1))
    voiced = rms[rms > 0.1 * rms.max()]
    return x * (10 ** (dbfs / 20) / max(1e-9, float(np.sqrt((voiced**2).mean()))))


def tone(hz: float, seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    ramp = np.minimum(1, np.minimum(t, t[::-1]) / 0.005)  # 5 ms edges, no clicks
    return amp * ramp * np.sin(2 * np.pi * hz * t)


def music(rng: random.Random, seconds: float, amp: float) -> np.ndarray:
    """Music on a greeting (before the voice, or under it until the beep), roughly: notes of
    a major scale with two harmonics, 0.15-0.45 s each."""
    scale = [261.63 * 2 ** (s / 12) for s in (0, 2, 4, 5, 7, 9, 11, 12, 14, 16)]
    out: list[np.ndarray] = []
    while sum(n.size for n in out) < seconds * RATE:
        f, d = rng.choice(scale), rng.uniform(0.15, 0.45)
        out.append(tone(f, d, amp) + tone(2 * f, d, amp / 3) + tone(3 * f, d, amp / 6))
    return np.concatenate(out)[: int(seconds * RATE)]


def noise(seed: int, n: int, dbfs: float) -> np.ndarray:
    """Room noise: white noise through a one-pole low-pass (more low than high), at `dbfs`."""
    w = np.random.default_rng(seed).standard_normal(n)
    y = np.empty(n)
    acc = 0.0
    for i, v in enumerate(w):  # a plain loop: small files, and it stays deterministic
        acc = 0.9 * acc + v
        y[i] = acc
    return y * (10 ** (dbfs / 20) / max(1e-9, float(np.sqrt((y**2).mean()))))


class Track:
    """A file under construction: pieces in order, with the speech and the beep labelled."""

    def __init__(self, g: Greeting) -> None:
        self.g = g
        self.parts: list[np.ndarray] = []

    @property
    def now(self) -> float:
        return sum(p.size for p in self.parts) / RATE

    def pause(self, seconds: float) -> None:
        self.parts.append(np.zeros(int(seconds * RATE)))

    def say(self, x: np.ndarray) -> None:
        self.g.speech.append((round(self.now, 3), round(self.now + x.size / RATE, 3)))
        self.parts.append(x)

    def beep(self, hz: int, seconds: float, amp: float = 0.3) -> None:
        self.g.beep = (round(self.now, 3), round(self.now + seconds, 3), hz)
        self.parts.append(tone(hz, seconds, amp))

    def write(self, path: Path, seed: int, under: np.ndarray | None = None) -> None:
        x = np.concatenate(self.parts)
        if under is not None:
            x[: under.size] += under[: x.size]
        if self.g.noise_dbfs is not None:
            x = x + noise(seed, x.size, self.g.noise_dbfs)
        self.g.duration = round(x.size / RATE, 3)
        pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm.tobytes())


def _voice(rng: random.Random, ko: bool) -> tuple[str, int, int]:
    return (rng.choice(KO_VOICES if ko else EN_VOICES), rng.randint(130, 210), rng.randint(30, 75))


def human(i: int, rng: random.Random) -> tuple[Greeting, Track]:
    """A person: a pick-up pause, one short phrase or word, sometimes a second, then waiting."""
    ko = i % 4 == 1
    kind = rng.choices(["phrase", "word", "again", "two", "slow"], [45, 20, 15, 12, 8])[0]
    level = rng.choice([rng.uniform(-30, -16)] * 9 + [rng.uniform(-42, -33)])  # 1 in 10 quiet
    voice, speed, pitch = _voice(rng, ko)
    g = Greeting(1000 + i, "human", kind, "ko" if ko else "en", "", voice,
                 level_dbfs=round(level, 1))
    if rng.random() < 0.25:
        g.noise_dbfs = round(rng.uniform(-60, -44), 1)
    t = Track(g)
    t.pause(rng.uniform(1.4, 2.4) if kind == "slow" else rng.uniform(0.15, 1.0))
    if kind == "word":  # a real voice: one short word, then silence
        name = f"{rng.randrange(10)}_{rng.choice(['george', 'jackson', 'lucas', 'nicolas'])}" \
            f"_{rng.randrange(50)}.wav"
        g.lang, g.text, g.voice = "en", name, "fsdd"
        t.say(at_level(fsdd(name), level))
    else:
        g.text = rng.choice(HUMAN_KO if ko else HUMAN_EN)
        t.say(at_level(tts(g.text, voice, speed, pitch), level))
    if kind in ("again", "two"):  # "Hello? ... Hello?" or two short phrases close together
        t.pause(rng.uniform(1.0, 2.2) if kind == "again" else rng.uniform(0.25, 0.6))
        second = rng.choice(SECOND_KO if ko else SECOND_EN)
        g.text += " | " + second
        t.say(at_level(tts(second, voice, speed, pitch), level))
    t.pause(6.0)
    return g, t


def machine(i: int, rng: random.Random) -> tuple[Greeting, Track, np.ndarray | None]:
    """A machine: maybe music first, a greeting of 3-15 s, a beep, then silence."""
    ko = i % 4 == 1
    kind = rng.choices(["plain", "music-first", "music-under", "paused", "hello-first"],
                       [50, 12, 10, 18, 10])[0]
    level = rng.uniform(-26, -14)
    voice, speed, pitch = _voice(rng, ko)
    g = Greeting(2000 + i, "machine", kind, "ko" if ko else "en", "", voice,
                 level_dbfs=round(level, 1))
    if rng.random() < 0.15:
        g.noise_dbfs = round(rng.uniform(-60, -48), 1)
    t = Track(g)
    t.pause(rng.uniform(0.1, 0.8))
    if kind == "music-first":
        t.parts.append(music(rng, rng.uniform(1.0, 3.0), 10 ** ((level - 4) / 20)))
        t.pause(rng.uniform(0.1, 0.5))
    text = rng.choice(MACHINE_KO if ko else MACHINE_EN).replace("{n}", rng.choice(NAMES))
    sentences = [s.strip() + "." for s in text.replace("?", ".").split(".") if s.strip()]
    if kind == "hello-first":  # the trap: a short "Hello." as a person says it, then the rest
        sentences = ["여보세요." if ko else "Hello.", *sentences]
    if kind in ("paused", "hello-first"):
        for n, s in enumerate(sentences):
            if n:
                t.pause(rng.uniform(0.4, 1.2))
            t.say(at_level(tts(s, voice, speed, pitch), level))
    else:
        t.say(at_level(tts(" ".join(sentences), voice, speed, pitch), level))
    g.text = " ".join(sentences)
    t.pause(rng.uniform(0.2, 1.0))
    under = music(rng, t.now, 10 ** ((level - 14) / 20)) if kind == "music-under" else None
    hz = rng.choices([1000, 1400, 850, 440], [70, 12, 10, 8])[0]
    t.beep(hz, rng.choice([0.25, 0.4, 0.5, 0.5, 0.7, 1.0]))
    t.pause(8.0)
    return g, t, under


def build(out: Path = OUT, humans: int = 130, machines: int = 130, seed: int = SEED
          ) -> list[Greeting]:
    """Write every greeting and labels.json into `out`; return the labels."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.wav"):
        old.unlink()
    made: list[Greeting] = []
    for i in range(humans):
        g, t = human(i, random.Random(f"{seed}:human:{i}"))
        t.write(out / f"{g.id}.wav", seed * 100_000 + g.id)
        made.append(g)
    for i in range(machines):
        g, t, under = machine(i, random.Random(f"{seed}:machine:{i}"))
        t.write(out / f"{g.id}.wav", seed * 100_000 + g.id, under)
        made.append(g)
    (out / "labels.json").write_text(json.dumps([asdict(g) for g in made], indent=1,
                                                ensure_ascii=False) + "\n")
    return made


def load(out: Path = OUT) -> list[Greeting]:
    rows = json.loads((out / "labels.json").read_text())
    return [Greeting(**{**r, "speech": [tuple(s) for s in r["speech"]],
                        "beep": tuple(r["beep"]) if r["beep"] else None}) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--humans", type=int, default=130)
    parser.add_argument("--machines", type=int, default=130)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    made = build(args.out, args.humans, args.machines, args.seed)
    for label in ("human", "machine"):
        mine = [g for g in made if g.label == label]
        kinds: dict[str, int] = {}
        for g in mine:
            kinds[g.kind] = kinds.get(g.kind, 0) + 1
        speech = sorted(g.speech_end - g.speech[0][0] for g in mine)
        print(f"{label}: {len(mine)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))});"
              f" speech {speech[0]:.1f}-{speech[-1]:.1f} s, median {speech[len(speech) // 2]:.1f}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
