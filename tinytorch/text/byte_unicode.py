"""GPT-2's byte <-> unicode table: how byte-level BPE files write token bytes as JSON strings.

A token is a byte string, often not valid UTF-8 on its own (half a character). GPT-2's
`vocab.json`/`merges.txt` and Hugging Face's byte-level `tokenizer.json` therefore spell each
byte as one printable character: printable Latin-1 bytes stand for themselves, the other 68
bytes (controls, space, 0x7f-0xa0, 0xad) for U+0100 upwards, in byte order. So the space byte
is 'Ġ' (U+0120) and a newline is 'Ċ' (U+010A): " the" is written "Ġthe".
"""

from __future__ import annotations


def _byte_to_unicode() -> tuple[str, ...]:
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in chars]
    chars.update({b: chr(256 + n) for n, b in enumerate(others)})
    return tuple(chars[b] for b in range(256))


BYTE_TO_UNICODE = _byte_to_unicode()
UNICODE_TO_BYTE = {ch: b for b, ch in enumerate(BYTE_TO_UNICODE)}


def token_string(token: bytes) -> str:
    """The file spelling of a token's bytes."""
    return "".join([BYTE_TO_UNICODE[b] for b in token])


def token_bytes(string: str) -> bytes:
    """The bytes a file spelling stands for; ValueError naming a character outside the table."""
    try:
        return bytes([UNICODE_TO_BYTE[ch] for ch in string])
    except KeyError as e:
        raise ValueError(
            f"{string!r} is not a byte-level token: character {e.args[0]!r} is not in GPT-2's "
            "byte-to-unicode table"
        ) from None
