"""tiktoken's rank files (`cl100k_base.tiktoken` and the like), read into BPE merges.

Each line is `base64(token bytes) rank`, and a token's id is its rank. tiktoken keeps no merge
list: it merges the adjacent pair whose concatenation has the lowest rank. The same splits come
from pair merges recovered as minbpe's `recover_merges` does: BPE on a token's own bytes, using
only tokens of lower rank, stops at two pieces, and the token is the merge of those two.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any

from tinytorch.text.tokenizer_base import read_file_bytes

# Longer tokens are refused: recovering a token's merge costs the square of its length, and the
# longest tokens of OpenAI's encodings have well under a hundred bytes.
MAX_TOKEN_BYTES = 1024
_RANK = re.compile(rb"[0-9]{1,9}")


def read_tiktoken_bpe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`byte_ids`, `merges` and `merge_ids` (BPETokenizer's keyword arguments) of a rank file."""
    ranks: dict[bytes, int] = {}
    line_of: dict[bytes, int] = {}
    rank_line: dict[int, int] = {}
    for number, line in enumerate(read_file_bytes(path).splitlines(), start=1):
        if not line:
            continue  # as tiktoken does
        fields = line.split()
        where = f"{path} line {number}"
        if len(fields) != 2:
            raise ValueError(f"{where}: expected 'base64-token rank', got {line[:80]!r}")
        try:
            token = base64.b64decode(fields[0], validate=True)
        except binascii.Error:
            raise ValueError(f"{where}: {fields[0][:80]!r} is not base64") from None
        if not 1 <= len(token) <= MAX_TOKEN_BYTES:
            raise ValueError(
                f"{where}: a token of {len(token)} bytes (allowed: 1 to {MAX_TOKEN_BYTES})"
            )
        if not _RANK.fullmatch(fields[1]):
            raise ValueError(f"{where}: rank {fields[1][:20]!r} is not an integer in [0, 10**9)")
        rank = int(fields[1])
        if token in line_of:
            raise ValueError(f"{where}: token {token!r} repeats line {line_of[token]}")
        if rank in rank_line:
            raise ValueError(f"{where}: rank {rank} repeats line {rank_line[rank]}")
        ranks[token], line_of[token], rank_line[rank] = rank, number, number

    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise ValueError(
            f"{path}: no token for byte {missing[0]} and {len(missing) - 1} more: a byte-level "
            "BPE needs all 256"
        )
    merges, merge_ids = [], []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        pieces = _bpe_below(ranks, token, rank)
        if len(pieces) != 2:
            raise ValueError(
                f"{path} line {line_of[token]}: token {token!r} (rank {rank}) is not the merge of "
                f"two tokens of lower rank (BPE leaves {len(pieces)} pieces of it)"
            )
        merges.append((ranks[pieces[0]], ranks[pieces[1]]))
        merge_ids.append(rank)
    return {
        "byte_ids": [ranks[bytes([b])] for b in range(256)],
        "merges": merges,
        "merge_ids": merge_ids,
    }


def _bpe_below(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """tiktoken's BPE of `token`'s bytes using only tokens ranked below `max_rank`."""
    pieces = [token[i : i + 1] for i in range(len(token))]
    while len(pieces) > 1:
        best, best_rank = -1, max_rank
        for i in range(len(pieces) - 1):
            rank = ranks.get(pieces[i] + pieces[i + 1], max_rank)
            if rank < best_rank:
                best, best_rank = i, rank
        if best < 0:
            break
        pieces[best : best + 2] = [pieces[best] + pieces[best + 1]]
    return pieces
