"""The id tables a byte-level BPE is built from, checked: byte ids, merges and the ids they
create, special ids and roles.

Ids come from files as often as from code, so each check names the bad value and what is
allowed, and sizes are bounded before anything of that size is made.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

# Bound on ids, so that a file naming id 10**12 cannot make the id -> token table huge (this
# one is 32 MiB). The largest real vocabularies have a few hundred thousand tokens.
MAX_VOCAB_SIZE = 2**22
ROLES = ("pad", "bos", "eos")  # the special tokens a tokenizer uses itself
# Bound on the summed length of all merged tokens. Each merge joins two earlier tokens, so a
# merge list (e.g. from a crafted file) that keeps joining a token with itself doubles its length
# every time: 40 merges would spell a terabyte. Trained tokens are pieces of the training text,
# typically a few bytes each (a 50,000-merge vocabulary holds well under 1 MiB).
MAX_MERGED_BYTES = 64 * 2**20


def check_id(what: str, value: Any) -> int:
    """`value` as an int id in [0, MAX_VOCAB_SIZE); ValueError naming `what` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be an integer id, got {value!r}")
    if not 0 <= value < MAX_VOCAB_SIZE:
        raise ValueError(f"{what} is {value}, outside the ids allowed, [0, {MAX_VOCAB_SIZE})")
    return int(value)


def check_byte_ids(byte_ids: Sequence[int] | None) -> list[int]:
    """The ids of bytes 0..255: 256 distinct ids; None means byte b has id b."""
    if byte_ids is None:
        return list(range(256))
    ids = [check_id(f"byte_ids[{b}]", token_id) for b, token_id in enumerate(byte_ids)]
    if len(ids) != 256:
        raise ValueError(f"byte_ids must give the ids of the 256 bytes, got {len(ids)} ids")
    first_byte: dict[int, int] = {}
    for b, token_id in enumerate(ids):
        if first_byte.setdefault(token_id, b) != b:
            raise ValueError(f"byte_ids gives bytes {first_byte[token_id]} and {b} the same id")
    return ids


def check_special_ids(
    special_ids: Mapping[str, Any], tokens: Mapping[int, bytes]
) -> dict[str, int]:
    """Name -> id, with ids distinct from each other and from the ids in `tokens`."""
    out: dict[str, int] = {}
    owner: dict[int, str] = {}
    for name, value in special_ids.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"special tokens must be non-empty strings, got {name!r}")
        token_id = check_id(f"the id of special token {name!r}", value)
        if token_id in tokens:
            raise ValueError(
                f"special token {name!r} has id {token_id}, which is the token {tokens[token_id]!r}"
            )
        if token_id in owner:
            raise ValueError(f"special tokens {owner[token_id]!r} and {name!r} share id {token_id}")
        owner[token_id] = name
        out[name] = token_id
    return out


def check_roles(roles: Mapping[str, str] | None, special_ids: Mapping[str, int]) -> dict[str, str]:
    """Role -> special token name: the given ones, else `<pad>`, `<bos>`, `<eos>` if present."""
    out = {role: f"<{role}>" for role in ROLES if f"<{role}>" in special_ids}
    for role, name in (roles or {}).items():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {list(ROLES)}")
        if name not in special_ids:
            raise ValueError(
                f"role {role!r} names {name!r}, which is not a special token (they are "
                f"{list(special_ids)})"
            )
        out[role] = name
    return out


def spell_merges(
    byte_ids: list[int], merges: Sequence[tuple[int, int]], merge_ids: Sequence[int] | None
) -> tuple[dict[int, bytes], dict[tuple[int, int], int], list[int]]:
    """Each token's bytes by id, each merged pair's rank, and the id each merge creates.

    Checks that every merge joins tokens that exist before it, that no pair is merged twice,
    that an id spells one token only, and the MAX_MERGED_BYTES bound (before joining).
    """
    tokens = {token_id: bytes([b]) for b, token_id in enumerate(byte_ids)}
    ranks: dict[tuple[int, int], int] = {}
    created = range(256, 256 + len(merges)) if merge_ids is None else merge_ids
    if len(created) != len(merges):
        raise ValueError(f"merge_ids has {len(created)} ids for {len(merges)} merges")
    merged_bytes = 0
    for i, (pair, new_id) in enumerate(zip(merges, created, strict=True)):
        try:
            a, b = pair
        except (TypeError, ValueError):
            a = b = None
        if any(isinstance(x, bool) or not isinstance(x, numbers.Integral) for x in (a, b)):
            raise ValueError(f"merge {i} must be a pair of integer ids, got {pair!r}")
        a, b = int(a), int(b)
        unknown = [x for x in (a, b) if x not in tokens]
        if unknown:
            raise ValueError(
                f"merge {i} {[a, b]} references an id outside the tokens made before it: "
                f"{unknown[0]} is neither a byte's id nor made by an earlier merge"
            )
        if (a, b) in ranks:
            raise ValueError(f"merge {i} {[a, b]} repeats merge {ranks[a, b]}")
        new_id = check_id(f"the id merge {i} creates", new_id)
        merged_bytes += len(tokens[a]) + len(tokens[b])  # checked before joining
        if merged_bytes > MAX_MERGED_BYTES:
            raise ValueError(
                f"merges 0..{i} spell {merged_bytes} bytes of tokens, more than the "
                f"{MAX_MERGED_BYTES} allowed (merges that keep joining a token with itself "
                "double its length each time)"
            )
        token = tokens[a] + tokens[b]
        if tokens.setdefault(new_id, token) != token:
            raise ValueError(
                f"merge {i} {[a, b]} creates id {new_id} as {token!r}, but that id is already "
                f"the token {tokens[new_id]!r}"
            )
        ranks[a, b] = i
    return tokens, ranks, list(created)
