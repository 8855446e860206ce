"""A file's column names, from its header labels: what identifies a label across files of a table
(`label_keys`), and the unique, normalised name each label gets, kept from the table's earlier
files (`column_names`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


def label_keys(labels: Sequence[str]) -> list[str]:
    """What identifies each label across files: the label without surrounding spaces, and for the
    n-th repeat of a label in its file, the label and n on a line of their own ("Delivery Time",
    "Delivery Time\n2")."""
    seen: dict[str, int] = {}
    keys = []
    for label in labels:
        key = label.strip()
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}\n{seen[key]}")
    return keys


def column_names(
    labels: Sequence[str], normalize: Callable[[str], str], known: Mapping[str, str] | None = None
) -> list[str]:
    """Normalised, unique names. A label keeps the name it got in the table's earlier files
    (`known`, by label_keys); any other gets its normalised label, or, where that name is taken in
    this file or belongs to another label of the table, _2, _3, ... So two labels that normalise
    alike (`Tax %` and `Tax#`, both `taxx`) keep their own columns whichever of them a file has."""
    known = known or {}
    owner = {name: key for key, name in known.items()}
    taken: set[str] = set()
    out: list[str] = []
    for i, (label, key) in enumerate(zip(labels, label_keys(labels), strict=True)):
        name = known.get(key)
        if name is None or name in taken:
            base = normalize(label if label.strip() else f"column_{i + 1}")
            name, n = base, 1
            while name in taken or owner.get(name, key) != key:
                n += 1
                name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out
