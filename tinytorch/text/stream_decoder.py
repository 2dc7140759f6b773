"""Text of a token stream, piece by piece, exactly as `decode` would give it at the end.

Printing each generated token as it comes needs care: a byte-level BPE token may hold only part
of a UTF-8 character (an emoji can span three tokens), and decoding such a token alone would
print U+FFFD where the finished text has the character. `StreamDecoder` keeps the bytes of an
unfinished character until the tokens that complete it arrive (Python's incremental UTF-8
decoder), so the pieces joined always equal `tokenizer.decode(all_ids)`. A character tokenizer's
text is the concatenation of each token's text, so its tokens are decoded one by one.
"""

from __future__ import annotations

import codecs
from typing import Any

from tinytorch.text.bpe import BPETokenizer
from tinytorch.text.tokenizer_base import Tokenizer


class StreamDecoder:
    """`feed(ids)` returns the text those ids complete; `finish()` the rest (a character left
    unfinished becomes U+FFFD, as in `decode`)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self._utf8 = (
            codecs.getincrementaldecoder("utf-8")(errors="replace")
            if isinstance(tokenizer, BPETokenizer)
            else None
        )

    def feed(self, ids: Any) -> str:
        if self._utf8 is None:
            return self.tokenizer.decode(ids)
        return self._utf8.decode(self.tokenizer.decode_bytes(ids))

    def finish(self) -> str:
        return "" if self._utf8 is None else self._utf8.decode(b"", final=True)
