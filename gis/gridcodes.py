"""Grid codes after the DB11/T 2157 shape: 6-digit region + 3 street + 3 community + 3 grid (+3 micro-grid).

A 4-digit city code (GB/T 2260 prefix) may head the tree; a district may also be a root.
"""

import re

LEVEL_LENGTHS = {"city": 4, "district": 6, "street": 9, "community": 12, "grid": 15, "micro_grid": 18}
PARENT_LEVEL = {
    "district": "city",
    "street": "district",
    "community": "street",
    "grid": "community",
    "micro_grid": "grid",
}


class GridCodeError(ValueError):
    """A code that does not fit its level or parent."""


def check_code(level: str, code: str, parent_code: str | None = None) -> None:
    """Raise :class:`GridCodeError` unless ``code`` has the level's length and nests in the parent's."""
    if level not in LEVEL_LENGTHS:
        raise GridCodeError(f"unknown level {level!r}; one of {', '.join(LEVEL_LENGTHS)}")
    if not isinstance(code, str) or not re.fullmatch(r"[0-9]+", code or ""):
        raise GridCodeError("code must be digits only")
    want = LEVEL_LENGTHS[level]
    if len(code) != want:
        raise GridCodeError(f"a {level} code has {want} digits, not {len(code)}")
    if level == "city" or (level == "district" and parent_code is None):
        if level == "city" and parent_code is not None:
            raise GridCodeError("a city has no parent")
        return
    if parent_code is None:
        raise GridCodeError(f"a {level} needs a parent {PARENT_LEVEL[level]}")
    if len(parent_code) != LEVEL_LENGTHS[PARENT_LEVEL[level]]:
        raise GridCodeError(f"the parent of a {level} must be a {PARENT_LEVEL[level]}")
    if not code.startswith(parent_code):
        raise GridCodeError(f"code {code} must start with its parent's code {parent_code}")
    if code[len(parent_code) :].strip("0") == "":
        raise GridCodeError("the sequence part of a code cannot be all zeros")


def child_code(parent_code: str, seq: int) -> str:
    """The code of the ``seq``-th child (1-based) of ``parent_code``."""
    if not 1 <= seq <= 999:
        raise GridCodeError("sequence must be 1..999")
    return f"{parent_code}{seq:03d}"


def level_of(code: str) -> str:
    """The level a code's length denotes."""
    for level, n in LEVEL_LENGTHS.items():
        if len(code) == n:
            return level
    raise GridCodeError(f"no level has {len(code)}-digit codes")


def next_child_code(parent_code: str, taken) -> str:
    """The code of the next child of ``parent_code``: one past the highest sequence among ``taken``
    (codes of its children, any level below); :class:`GridCodeError` past 999."""
    seqs = [
        int(c[len(parent_code) : len(parent_code) + 3])
        for c in taken
        if c.startswith(parent_code)
        and len(c) >= len(parent_code) + 3
        and c[len(parent_code) : len(parent_code) + 3].isdigit()
    ]
    seq = max(seqs, default=0) + 1
    if seq > 999:
        raise GridCodeError(f"{parent_code} has no free code left (999 children)")
    return child_code(parent_code, seq)
