"""Statistics of per-seed results, shared by the leaderboard and the final evaluation.

``paired_difference``: for two architectures trained with the same seeds, d_i = acc_i − acc_ref,i over the
seeds both have, its mean and the 95% confidence interval mean ± t_{0.975, n−1} · s_d / √n (Student's t,
``scipy.stats.t``; e.g. Montgomery & Runger, *Applied Statistics and Probability for Engineers*, paired t).
Pairing by seed removes the part of the seed-to-seed noise the two share (initialisation, data order,
augmentation) from the comparison (Lindauer & Hutter 2020, best practices for NAS: several seeds and an
interval for every difference).
"""
from __future__ import annotations

import math

CONFIDENCE = 0.95


def describe(values) -> dict:
    """mean, std (ddof = 1; None for n < 2), min, max, n of a list of numbers."""
    import numpy as np

    values = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(values)
    if n == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if n > 1 else None,
            "min": float(values.min()), "max": float(values.max()), "n": n}


def paired_difference(ours: dict, reference: dict, confidence: float = CONFIDENCE) -> dict:
    """Mean difference ours − reference over the seeds both have (seed -> accuracy) and its Student-t
    confidence interval; the interval is None with fewer than two pairs."""
    import numpy as np
    from scipy import stats

    seeds = sorted(set(ours) & set(reference))
    d = np.asarray([ours[s] - reference[s] for s in seeds], dtype=float)
    out = {"n": len(seeds), "seeds": seeds, "mean": None, "std": None, "ci_low": None, "ci_high": None,
           "confidence": confidence}
    if len(d) == 0:
        return out
    out["mean"] = float(d.mean())
    if len(d) < 2:
        return out
    out["std"] = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1)) * out["std"] / math.sqrt(len(d))
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out


__all__ = ["CONFIDENCE", "describe", "paired_difference"]
