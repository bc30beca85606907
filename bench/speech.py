"""Speech recognition on real telephone speech: accuracy, latency, CPU, concurrent calls.

    .venv/bin/python bench/speech.py [--limit N] [--skip-capacity] [--learn-cmn]

Every clip of ../shared/data/fsdd (8 kHz spoken digits, four speakers) goes through the path
a call's audio takes: 20 ms RTP frames of slin in network byte order, swapped to little-endian,
fed to an `AsyncTurn` as they come, resampled to 16 kHz and decoded in an executor, the result
after the last frame. Variants add one change at a time to the baseline (naive 2x upsampling,
the model's own configuration), so each row says what that change is worth. Where a variant
starts turns from a telephone cepstral mean, each speaker is scored with a mean learnt from the
other three speakers only (leave one speaker out), so nothing is learnt from the clips scored.

This file is the command line; the measurements live next to it: speech_line.py (the clips and
the call path), speech_variants.py (the variants and the learnt CMN), speech_accuracy.py,
speech_strings.py (PINs, account numbers) and speech_capacity.py (calls at once).

Results and what they mean: bench/README.md ("Speech recognition").
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

# The repository first, so that `ivr` is this checkout's wherever the script is run from; the
# sibling modules below import it. (bench/ itself is on the path: it is the script's directory.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speech_accuracy import report, run_variants
from speech_capacity import capacity_report
from speech_line import FSDD, SPEAKERS, clips
from speech_strings import strings_report
from speech_variants import VARIANTS, learn_cmn, loso_cmns

from ivr.media.speech.pocketsphinx_engine import TELEPHONE_BAND_NOISE_DBFS


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="score N random clips (default: all)")
    parser.add_argument("--variants", default="".join(v.key for v in VARIANTS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--strings", type=int, default=100, help="digit strings per kind")
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="per capacity run")
    parser.add_argument("--learn-cmn", action="store_true",
                        help="print the telephone CMN learnt from every speaker, and stop")
    args = parser.parse_args()
    all_clips = clips(args.limit)
    if args.learn_cmn:
        train = [c for spk in SPEAKERS for c in random.Random(1).sample(
            [c for c in all_clips if c.speaker == spk],
            min(150, sum(c.speaker == spk for c in all_clips)))]
        print(learn_cmn(train))
        return 0
    print(f"{len(all_clips)} clips from {FSDD}", file=sys.stderr)
    cmn_loso: dict[tuple[bool, float | None], dict[str, str]] = {}
    chosen = [v for v in VARIANTS if v.key in args.variants]
    print(report(run_variants(chosen, all_clips, args.jobs, cmn_loso), len(all_clips)),
          flush=True)
    if args.strings:
        path = (False, TELEPHONE_BAND_NOISE_DBFS)
        if path not in cmn_loso:
            cmn_loso[path] = loso_cmns(all_clips, *path)
        print(strings_report(all_clips, args.strings, args.jobs, cmn_loso[path]), flush=True)
    if not args.skip_capacity:
        print(capacity_report(all_clips, args.seconds, args.jobs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
