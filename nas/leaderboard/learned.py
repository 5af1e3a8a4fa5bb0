"""What a learned scheme is, in the leaderboard: for every trial that learned its coefficients
(``learn_scheme``, docs/learned.md), the diagnostics of the concrete learned scheme ``trials.csv`` records in
``learned_scheme`` (its JSON form at the saved weights), computed with ``nas.diagnostics`` as the search computes
``order`` … ``real_stability_interval`` for the starting point: ``learned_order``, ``learned_zero_stable``,
``learned_error_constant`` (multistep: C_{p+1}/σ(1)), ``learned_error_norm`` (Runge-Kutta: 2-norm of the
principal error coefficients) and ``learned_real_stability_interval`` (r of [−r, 0]).
"""
from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd

from ..messages import quote

LEARNED_SCHEME_COLUMN = "learned_scheme"
LEARNED_DIAGNOSTICS = ("order", "zero_stable", "error_constant", "error_norm", "real_stability_interval")
LEARNED_COLUMNS = tuple(f"learned_{name}" for name in LEARNED_DIAGNOSTICS)


@lru_cache(maxsize=1024)
def learned_scheme_diagnostics(scheme_json: str) -> tuple:
    """The diagnostics (``LEARNED_DIAGNOSTICS`` order) of one scheme's JSON form (``nas.schemes.from_dict``);
    the family's ``diagnostic_columns``, the same analysis as a trial's own ``order`` … columns. Cached: a
    leaderboard reads the same learned scheme once."""
    from ..families.registry import family_of
    from ..schemes import from_dict

    scheme = from_dict(json.loads(scheme_json))
    columns = family_of(scheme).diagnostic_columns(scheme)
    return tuple(columns.get(name) for name in LEARNED_DIAGNOSTICS)


def with_learned_diagnostics(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the ``LEARNED_COLUMNS`` filled from its ``learned_scheme`` column (empty for trials that
    did not learn); unchanged when no trial learned, so other runs keep their columns. A learned scheme that
    cannot be read or analysed is a ``ValueError`` naming the trial (a damaged table must not pass silently)."""
    if LEARNED_SCHEME_COLUMN not in frame.columns:
        return frame
    values = {column: [] for column in LEARNED_COLUMNS}
    for trial_id, text in zip(frame.get("trial_id", pd.Series(range(len(frame)))), frame[LEARNED_SCHEME_COLUMN]):
        row = (None,) * len(LEARNED_DIAGNOSTICS)
        if isinstance(text, str) and text.strip():
            try:
                row = learned_scheme_diagnostics(text)
            except Exception as exc:  # unreadable JSON, an unknown family, a failed analysis
                raise ValueError(f"trial {trial_id}: learned_scheme {quote(text[:80])} cannot be analysed "
                                 f"({type(exc).__name__}: {exc})") from None
        for column, value in zip(LEARNED_COLUMNS, row):
            values[column].append(value)
    out = frame.copy()
    for column in LEARNED_COLUMNS:
        kind = "boolean" if column == "learned_zero_stable" else "float64"
        out[column] = pd.array([pd.NA if v is None else v for v in values[column]], dtype=kind) \
            if kind == "boolean" else pd.to_numeric(pd.Series(values[column], index=out.index, dtype=object))
    return out


__all__ = ["LEARNED_COLUMNS", "LEARNED_DIAGNOSTICS", "learned_scheme_diagnostics", "with_learned_diagnostics"]
