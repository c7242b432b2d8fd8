"""`dataset stats`: hours, clips, speakers, phoneme and viseme coverage, blendshape ranges."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..motion.names import ARKIT_NAMES
from .dataset import SPLITS, load_clip, read_info, read_manifest
from .phonemes import SILENCE
from .visemes import VISEMES, to_visemes


def dataset_stats(root: str | Path) -> dict:
    root = Path(root)
    info = read_info(root)
    rows = read_manifest(root)
    out: dict = {"kind": info.get("kind"), "clips": len(rows),
                 "hours": sum(r["duration_s"] for r in rows) / 3600.0, "splits": {}}
    for split in SPLITS:
        sel = [r for r in rows if r["split"] == split]
        out["splits"][split] = {"clips": len(sel),
                                "hours": sum(r["duration_s"] for r in sel) / 3600.0,
                                "speakers": sorted({r["speaker"] for r in sel})}
    by = {}
    for key in ("engine", "language"):
        c: Counter = Counter()
        for r in rows:
            c[r[key]] += r["duration_s"] / 3600.0
        by[key] = dict(sorted(c.items()))
    out["hours_by"] = by
    phones: dict[str, Counter] = {}
    visemes: Counter = Counter()
    lo = np.full(len(ARKIT_NAMES), np.inf)
    hi = np.full(len(ARKIT_NAMES), -np.inf)
    total = np.zeros(len(ARKIT_NAMES))
    sq = np.zeros(len(ARKIT_NAMES))
    frames = 0
    rot_lo, rot_hi = np.full(3, np.inf), np.full(3, -np.inf)
    for r in rows:
        clip = load_clip(root / r["path"])
        tl = clip.phonemes
        cnt = phones.setdefault(tl.phoneset, Counter())
        for lab, s, e in zip(tl.labels, tl.starts, tl.ends):
            if lab == SILENCE:
                continue
            cnt[lab.replace("ˈ", "").replace("ˌ", "")] += 1
            for v in to_visemes(lab, tl.phoneset):
                visemes[v] += (e - s)
        b = clip.motion.blendshapes
        lo = np.minimum(lo, b.min(axis=0))
        hi = np.maximum(hi, b.max(axis=0))
        total += b.sum(axis=0)
        sq += (b.astype(np.float64) ** 2).sum(axis=0)
        frames += len(b)
        rot_lo = np.minimum(rot_lo, clip.motion.head_rotation.min(axis=0))
        rot_hi = np.maximum(rot_hi, clip.motion.head_rotation.max(axis=0))
    vis_total = sum(visemes.values()) or 1.0
    out["phonemes"] = {ps: {"distinct": len(c), "count": sum(c.values()),
                            "most": c.most_common(8), "least": c.most_common()[-5:]}
                       for ps, c in phones.items() if c}  # video clips carry no phonemes
    out["viseme_share"] = {v: round(visemes[v] / vis_total, 4) for v in VISEMES if v != "sil"}
    mean = total / max(frames, 1)
    std = np.sqrt(np.maximum(sq / max(frames, 1) - mean ** 2, 0))
    out["blendshapes"] = {n: {"min": float(lo[i]), "mean": float(mean[i]), "std": float(std[i]),
                              "max": float(hi[i])} for i, n in enumerate(ARKIT_NAMES)}
    out["head_rotation_deg"] = {"min": rot_lo.round(2).tolist(), "max": rot_hi.round(2).tolist()}
    out["frames"] = frames
    return out


def format_stats(s: dict) -> str:
    lines = [f"kind {s['kind']}: {s['clips']} clips, {s['hours']:.3f} h, {s['frames']} frames"]
    for split, d in s["splits"].items():
        lines.append(f"  {split:10s} {d['clips']:6d} clips {d['hours']:8.3f} h  "
                     f"{len(d['speakers'])} speakers")
    for key, d in s["hours_by"].items():
        lines.append(f"  hours by {key}: " + ", ".join(f"{k} {v:.3f}" for k, v in d.items()))
    for ps, d in s["phonemes"].items():
        lines.append(f"  phonemes ({ps}): {d['distinct']} distinct, {d['count']} tokens; most "
                     + " ".join(f"{k}:{v}" for k, v in d["most"]) + "; least "
                     + " ".join(f"{k}:{v}" for k, v in d["least"]))
    lines.append("  viseme share of speech time: " + " ".join(
        f"{k} {v:.1%}" for k, v in s["viseme_share"].items()))
    lines.append(f"  head rotation (pitch, yaw, roll) deg: min {s['head_rotation_deg']['min']} "
                 f"max {s['head_rotation_deg']['max']}")
    lines.append("  blendshape            min   mean    std    max")
    for name, d in s["blendshapes"].items():
        lines.append(f"  {name:20s} {d['min']:5.2f} {d['mean']:6.3f} {d['std']:6.3f} "
                     f"{d['max']:6.2f}")
    return "\n".join(lines)
