"""The leaderboard as text or files: the printed view (``display_frame``), ``render`` (table, csv, markdown)
and ``write_table`` (those or parquet, written atomically)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from ..atomic import atomic_path
from .analysis import check_columns

# Compact column set of the printed table; files (csv, parquet) get every column.
TABLE_COLUMNS = ("run", "trial_id", "family", "scheme_name", "noise_kind", "status", "best_val_acc", "vs_resnet",
                 "val_acc", "params", "flops", "order", "zero_stable", "learned_order", "learned_error_constant",
                 "learned_error_norm", "epochs_run", "budget")  # learned_*: only runs with learned coefficients
FORMATS = ("table", "csv", "markdown", "parquet")
VIEWS = ("trials", "families", "coefficients", "bins", "evaluation")


def render(frame: pd.DataFrame, fmt: str = "table", *, float_digits: int = 4) -> str:
    """``frame`` as text: ``table`` (aligned plain text), ``csv`` or ``markdown`` (GitHub pipe table)."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            signed = column.startswith("vs_") or column.endswith("vs_resnet") or column in ("spearman", "pearson")
            pattern = f"{{:+.{float_digits}f}}" if signed else f"{{:.{float_digits}g}}"
            if not signed and column.endswith(("acc", "best", "median", "mean")):
                pattern = f"{{:.{float_digits}f}}"
            shown[column] = shown[column].map(lambda v, p=pattern: "" if pd.isna(v) else p.format(v))
    shown = shown.astype(object).where(shown.notna(), "")
    if fmt == "markdown":
        # numbers are formatted above; tabulate must not re-parse "+0.0100" back into 0.01
        return shown.to_markdown(index=False, disable_numparse=True) + "\n"
    if fmt == "table":
        return shown.to_string(index=False) + "\n"
    raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")


def write_table(frame: pd.DataFrame, path, fmt: str) -> Path:
    """Write ``frame`` atomically as ``fmt`` (parquet keeps dtypes; text formats go through ``render``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    with atomic_path(path) as temporary:
        if fmt == "parquet":
            frame.reset_index(drop=True).to_parquet(temporary, index=False)
        else:
            temporary.write_text(render(frame, fmt), encoding="utf-8")
    return Path(path)


def display_frame(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The printed view: a rank column, baselines marked in ``scheme_name``, the chosen columns."""
    if columns is None:  # the default set, minus what these runs do not record
        columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    check_columns(frame, columns, "columns")
    out = frame[list(columns)].copy()
    if "scheme_name" in out.columns:
        marked = frame["baseline"].astype(bool).to_numpy()
        out["scheme_name"] = [f"{name} [baseline]" if is_baseline else name
                              for name, is_baseline in zip(out["scheme_name"].astype(str), marked)]
    out.insert(0, "rank", range(1, len(out) + 1))
    return out.reset_index(drop=True)


__all__ = ["render", "write_table", "display_frame", "TABLE_COLUMNS", "FORMATS", "VIEWS"]
