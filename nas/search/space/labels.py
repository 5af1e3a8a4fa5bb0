"""Block labels: the names of a space's scheme and noise options (``label`` keys), which prefix their trial
config keys (``<label>.<parameter>``) and so must be plain identifiers, unique within a section."""
from __future__ import annotations

from nas.messages import quote

from nas.domains import check_scalar, fail


def parse_label(raw: dict, path: str, default: str) -> str:
    """The block's ``label`` (default: ``default``): letters, digits and _."""
    label = raw.get("label", default)
    check_scalar(label, f"{path}.label", "str")
    if not label or not label.replace("_", "").isalnum():
        raise fail(f"{path}.label", f"must be letters, digits and _, got {quote(label)}")
    return label


def check_unique_labels(labels, paths) -> None:
    """A ``SpaceError`` at the second block that reuses a label."""
    seen = {}
    for label, path in zip(labels, paths):
        if label in seen:
            raise fail(f"{path}.label", f"label {quote(label)} is already used by {seen[label]}; give each block its "
                                        "own label")
        seen[label] = path


__all__ = ["parse_label", "check_unique_labels"]
