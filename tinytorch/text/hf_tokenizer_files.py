"""Hugging Face's tokenizer files: reading a byte-level BPE (or the char-level file written
below), and writing tokenizers that `transformers.AutoTokenizer` loads.

Read: `tokenizer.json` (the `tokenizers` library's format: model, pre-tokenizer, added tokens)
or GPT-2's `vocab.json` + `merges.txt`, plus `tokenizer_config.json` / `special_tokens_map.json`
for which tokens begin, end and pad sequences. Tokens are spelled in GPT-2's byte-to-unicode
alphabet (`byte_unicode.py`). Reading returns BPETokenizer's keyword arguments as plain data and
writing takes plain data, so this module never imports a tokenizer class. Anything that would
make the ids differ from Hugging Face's (a normalizer, `add_prefix_space`, a regex we do not
know, another model type) is refused with the key that holds it, never ignored.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tinytorch.checkpoint_error import shown
from tinytorch.files import atomic_write_bytes
from tinytorch.text.bpe_ids import ROLES, check_id
from tinytorch.text.byte_unicode import BYTE_TO_UNICODE, token_bytes, token_string
from tinytorch.text.split_patterns import PATTERNS, pattern_name
from tinytorch.text.tokenizer_base import FILE_FORMAT, read_file_bytes, read_json_file

TOKENIZER_JSON = "tokenizer.json"
VOCAB_JSON = "vocab.json"
MERGES_TXT = "merges.txt"
CONFIG_FILES = ("special_tokens_map.json", "tokenizer_config.json")  # the later one wins
ENDOFTEXT = "<|endoftext|>"  # GPT-2's only special token, its bos and eos when none is named
# A char-level tokenizer's pre-tokenizer: every character its own piece, newlines included
# ([\s\S]: `.` skips them).
_CHAR_SPLIT = {
    "type": "Split", "pattern": {"Regex": r"[\s\S]"}, "behavior": "Isolated", "invert": False
}


# ----------------------------------------------------------------------------------- reading
def read_pretrained_bpe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """BPETokenizer's keyword arguments from a directory, a tokenizer.json, or vocab.json /
    merges.txt (the pair is read from their directory)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        directory = path
        if not os.path.exists(os.path.join(path, TOKENIZER_JSON)):
            if not os.path.exists(os.path.join(path, VOCAB_JSON)):
                raise FileNotFoundError(
                    errno.ENOENT, f"no {TOKENIZER_JSON}, nor {VOCAB_JSON} and {MERGES_TXT}", path
                )
            return _read_vocab_and_merges(directory)
        path = os.path.join(path, TOKENIZER_JSON)
    else:
        directory = os.path.dirname(path)
        if os.path.basename(path) in (VOCAB_JSON, MERGES_TXT):
            return _read_vocab_and_merges(directory)
    data = read_json_file(path)
    try:
        kwargs = _parse_tokenizer_json(data)
        kwargs["roles"] = _roles(_read_configs(directory), kwargs["special_tokens"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return kwargs


def pretrained_model_type(directory: str | os.PathLike[str]) -> str | None:
    """The `model.type` of a directory's tokenizer.json ("BPE", "WordLevel", ...), or None
    when it has none or it cannot be read (the loader of the right kind then says why)."""
    try:
        model = read_json_file(os.path.join(directory, TOKENIZER_JSON)).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    return model.get("type") if isinstance(model, dict) else None


def read_pretrained_char_level(path: str | os.PathLike[str]) -> dict[str, int]:
    """The vocabulary (token -> id) of a one-token-per-character tokenizer.json, the kind
    `write_char_level` writes: anything that would tokenize differently is refused by key."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, TOKENIZER_JSON)
    data = read_json_file(path)
    try:
        if not isinstance(data, dict):
            raise ValueError("not a Hugging Face tokenizer.json (not a JSON object)")
        model = _get(data, "model", dict)
        _require(model.get("type"), ("WordLevel",), "model.type")
        _require(model.get("unk_token"), ("<unk>",), "model.unk_token")
        _require(data.get("pre_tokenizer"), (_CHAR_SPLIT,), "pre_tokenizer")
        _require(data.get("decoder"), ({"type": "Fuse"},), "decoder")
        for key in ("normalizer", "post_processor"):
            _require(data.get(key), (None,), key)
        vocab = _get(model, "vocab", dict, "model.vocab")
        for k, added in enumerate(_get(data, "added_tokens", list)):
            content = added.get("content") if isinstance(added, dict) else None
            if content not in vocab or vocab[content] != added.get("id"):
                raise ValueError(f"added_tokens[{k}] is not a token of model.vocab at its id")
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return vocab


def _parse_tokenizer_json(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("not a Hugging Face tokenizer.json (not a JSON object)")
    if data.get("format") == FILE_FORMAT:
        raise ValueError("a tinytorch tokenizer file, not Hugging Face's: use BPETokenizer.load")
    model = _get(data, "model", dict)
    if model.get("type") != "BPE":
        raise ValueError(
            f"model.type {model.get('type')!r} is not supported: only byte-level BPE models "
            "load (not WordPiece, Unigram or WordLevel)"
        )
    for key, allowed in (
        ("dropout", (None,)),
        ("continuing_subword_prefix", (None, "")),
        ("end_of_word_suffix", (None, "")),
        ("byte_fallback", (None, False)),
        ("ignore_merges", (None, False)),
    ):
        _require(model.get(key), allowed, f"model.{key}")
    normalizer = data.get("normalizer")
    if normalizer is not None and normalizer != {"type": "Sequence", "normalizers": []}:
        raise ValueError(
            f"normalizer {_type(normalizer)!r} is not supported: it changes the text before "
            "tokenizing (only null is)"
        )
    pattern = _byte_level_pattern(data.get("pre_tokenizer"))
    for key in ("decoder", "post_processor"):
        if data.get(key) is not None and _type(data[key]) != "ByteLevel":
            raise ValueError(
                f"{key} {_type(data[key])!r} is not supported (only ByteLevel or null)"
            )

    special_ids: dict[str, int] = {}
    for k, added in enumerate(_get(data, "added_tokens", list)):
        where = f"added_tokens[{k}]"
        if not isinstance(added, dict) or not isinstance(added.get("content"), str):
            raise ValueError(f"{where} must be an object with a string 'content'")
        for flag in ("lstrip", "rstrip", "single_word"):
            _require(added.get(flag, False), (False,), f"{where}.{flag}")
        if added["content"] in special_ids:
            raise ValueError(f"{where}: {added['content']!r} is added twice")
        special_ids[added["content"]] = check_id(f"{where}.id", added.get("id"))
    vocab = _get(model, "vocab", dict, "model.vocab")
    merges = []
    for k, merge in enumerate(_get(model, "merges", list, "model.merges")):
        pair = merge.split(" ") if isinstance(merge, str) else merge
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
        ):
            raise ValueError(f"model.merges[{k}] must be two tokens, got {shown(merge)}")
        merges.append(pair)
    ids = _ids_of(vocab, "model.vocab", merges, lambda k: f"model.merges[{k}]", special_ids)
    return {**ids, "special_tokens": special_ids, "pattern": pattern}


def _byte_level_pattern(pre: Any) -> str | None:
    """The name of the split a byte-level pre-tokenizer makes (None: no split)."""
    if _type(pre) == "ByteLevel":
        _require(pre.get("add_prefix_space", False), (False,), "pre_tokenizer.add_prefix_space")
        return "gpt2" if pre.get("use_regex", True) is not False else None
    steps = pre.get("pretokenizers") if _type(pre) == "Sequence" else None
    if not (isinstance(steps, list) and [_type(step) for step in steps] == ["Split", "ByteLevel"]):
        shown = [_type(step) for step in steps] if isinstance(steps, list) else _type(pre)
        raise ValueError(
            f"pre_tokenizer {shown!r} is not supported: a byte-level BPE needs a ByteLevel "
            "pre-tokenizer, alone or as Sequence [Split, ByteLevel]"
        )
    split, byte_level = steps
    key = "pre_tokenizer.pretokenizers"
    _require(byte_level.get("add_prefix_space", False), (False,), f"{key}[1].add_prefix_space")
    _require(byte_level.get("use_regex", True), (False,), f"{key}[1].use_regex")
    _require(split.get("behavior"), ("Isolated",), f"{key}[0].behavior")
    _require(split.get("invert", False), (False,), f"{key}[0].invert")
    pattern = split.get("pattern")
    if not (isinstance(pattern, dict) and isinstance(pattern.get("Regex"), str)):
        raise ValueError(f"{key}[0].pattern must be {{'Regex': ...}}, got {shown(pattern)}")
    return pattern_name(pattern["Regex"])


def _read_vocab_and_merges(directory: str) -> dict[str, Any]:
    vocab_path, merges_path = (os.path.join(directory, f) for f in (VOCAB_JSON, MERGES_TXT))
    vocab = read_json_file(vocab_path)
    if not isinstance(vocab, dict):
        raise ValueError(f"{vocab_path}: must be a JSON object mapping token -> id")
    raw = read_file_bytes(merges_path)
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"{merges_path}: not UTF-8 text ({e})") from None
    first = 1 if lines[0].startswith("#version") else 0
    if lines[-1] == "":
        lines.pop()
    merges = []
    for number, line in enumerate(lines[first:], start=first + 1):
        pair = line.split(" ")
        if len(pair) != 2 or "" in pair:
            raise ValueError(
                f"{merges_path} line {number}: expected two tokens separated by one space, got "
                f"{shown(line)}"
            )
        merges.append(pair)
    configs = _read_configs(directory)
    special_ids = {ENDOFTEXT: vocab[ENDOFTEXT]} if ENDOFTEXT in vocab else {}
    for key, name in configs.items():
        if name is not None and name not in special_ids:
            if name not in vocab:
                raise ValueError(f"{vocab_path}: has no {key} {name!r} (named by the config)")
            special_ids[name] = vocab[name]
    ids = _ids_of(
        vocab, vocab_path, merges, lambda k: f"{merges_path} line {k + first + 1}", special_ids
    )
    roles = _roles(configs, special_ids)
    return {**ids, "special_tokens": special_ids, "pattern": "gpt2", "roles": roles}


def _ids_of(
    vocab: dict[str, Any],
    vocab_key: str,
    merges: list[list[str]],
    merge_key: Callable[[int], str],
    special_ids: dict[str, Any],
) -> dict[str, Any]:
    """byte_ids, merges and merge_ids of a vocabulary spelled in the byte-to-unicode alphabet.

    Every entry must be a special token, a single byte or made by a merge.
    """
    byte_ids: list[int | None] = [None] * 256
    for token, token_id in vocab.items():
        if token in special_ids:
            if token_id != special_ids[token]:
                raise ValueError(
                    f"{vocab_key}[{token!r}] is {token_id!r}, but the added token has id "
                    f"{special_ids[token]!r}"
                )
        else:
            check_id(f"{vocab_key}[{token!r}]", token_id)
            try:
                spelled = token_bytes(token)
            except ValueError as e:
                raise ValueError(f"{vocab_key}: {e}") from None
            if len(spelled) == 1:
                byte_ids[spelled[0]] = token_id
            elif not spelled:
                raise ValueError(f"{vocab_key} holds the empty token (id {token_id})")
    missing = [b for b in range(256) if byte_ids[b] is None]
    if missing:
        b = missing[0]
        raise ValueError(
            f"{vocab_key} has no token for byte {b} ({BYTE_TO_UNICODE[b]!r}) and "
            f"{len(missing) - 1} more: a byte-level BPE needs all 256"
        )
    pairs, merge_ids, made = [], [], set()
    for k, (a, b) in enumerate(merges):
        for part in (a, b, a + b):
            if part not in vocab:
                raise ValueError(f"{merge_key(k)}: {part!r} is not in {vocab_key}")
        pairs.append((vocab[a], vocab[b]))
        merge_ids.append(vocab[a + b])
        made.add(a + b)
    for token, token_id in vocab.items():
        if token not in made and token not in special_ids and len(token_bytes(token)) > 1:
            raise ValueError(
                f"{vocab_key}[{token!r}] (id {token_id}) is neither a byte nor made by a merge, "
                "nor an added token"
            )
    return {"byte_ids": byte_ids, "merges": pairs, "merge_ids": merge_ids}


def _read_configs(directory: str) -> dict[str, str | None]:
    """`<role>_token` -> name (None where a file says null) from the config files present."""
    found: dict[str, str | None] = {}
    for file in CONFIG_FILES:
        path = os.path.join(directory, file)
        if not os.path.exists(path):
            continue
        data = read_json_file(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: must be a JSON object")
        for key in (f"{role}_token" for role in (*ROLES, "unk")):
            if key in data:
                value = data[key]
                name = value.get("content") if isinstance(value, dict) else value
                if name is not None and not isinstance(name, str):
                    raise ValueError(f"{path}: {key} must be a token string, got {shown(value)}")
                found[key] = name
    return found


def _roles(configs: dict[str, str | None], special_ids: Mapping[str, Any]) -> dict[str, str]:
    """The roles the config files name; bos and eos default to `<|endoftext|>` as in GPT-2."""
    roles = {}
    for role in ROLES:
        key = f"{role}_token"
        if key in configs:
            name = configs[key]  # None: the files say there is no such token
        else:
            name = ENDOFTEXT if role != "pad" and ENDOFTEXT in special_ids else None
        if name is None:
            continue
        if name not in special_ids:
            raise ValueError(f"the config files name {key} {name!r}, which is no added token")
        roles[role] = name
    return roles


def _get(data: dict[str, Any], key: str, kind: type, where: str | None = None) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{where or key} must be a JSON {kind.__name__}, got {shown(value)}")
    return value


def _require(value: Any, allowed: tuple[Any, ...], key: str) -> None:
    if not any(value is a or (type(value) is type(a) and value == a) for a in allowed):
        shown = " or ".join(json.dumps(a) for a in allowed)
        raise ValueError(f"{key}={json.dumps(value)[:60]} is not supported (only {shown})")


def _type(component: Any) -> Any:
    return component.get("type") if isinstance(component, dict) else component



# ----------------------------------------------------------------------------------- writing
def write_byte_level_bpe(
    out_dir: str | os.PathLike[str],
    tokens: Mapping[int, bytes],
    merges: Sequence[tuple[int, int]],
    special_ids: Mapping[str, int],
    pattern: str | None,
    roles: Mapping[str, str],
) -> None:
    """Write a byte-level BPE: `tokens` maps every non-special id to its bytes."""
    # The special tokens are in the model's vocabulary too, or `tokenizers` renumbers them.
    spelled = {i: token_string(token) for i, token in tokens.items()}
    spelled.update({i: name for name, i in special_ids.items()})
    vocab: dict[str, int] = {}
    for token_id in sorted(spelled):
        if vocab.setdefault(spelled[token_id], token_id) != token_id:
            raise ValueError(
                f"ids {vocab[spelled[token_id]]} and {token_id} are both {spelled[token_id]!r} in "
                "a Hugging Face vocabulary, which has one id per token"
            )
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True}
    if pattern is None:
        pre_tokenizer = {**byte_level, "use_regex": False}
    else:
        split = {"type": "Split", "pattern": {"Regex": PATTERNS[pattern]}, "behavior": "Isolated"}
        pre_tokenizer = {
            "type": "Sequence",
            "pretokenizers": [{**split, "invert": False}, {**byte_level, "use_regex": False}],
        }
    model = {
        "type": "BPE",
        "dropout": None,
        "unk_token": None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": False,
        "vocab": vocab,
        "merges": [[token_string(tokens[a]), token_string(tokens[b])] for a, b in merges],
    }
    named = {f"{role}_token": name for role, name in roles.items()}
    if "<unk>" in special_ids:
        named["unk_token"] = "<unk>"
    decoder = {**byte_level, "use_regex": True}
    _write_files(out_dir, model, pre_tokenizer, decoder, special_ids, named)


def write_char_level(
    out_dir: str | os.PathLike[str], tokens: Sequence[str], special_ids: Mapping[str, int]
) -> None:
    """Write a tokenizer of one token per character: `tokens[i]` is id i, unknowns are `<unk>`."""
    for token in tokens:
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in token):
            raise ValueError(
                f"{token!r} cannot be written: a lone surrogate is not UTF-8, which Hugging "
                "Face's files are"
            )
    model = {
        "type": "WordLevel",
        "vocab": {t: i for i, t in enumerate(tokens)},
        "unk_token": "<unk>",
    }
    named = {f"{name[1:-1]}_token": name for name in special_ids}
    _write_files(out_dir, model, _CHAR_SPLIT, {"type": "Fuse"}, special_ids, named)


def _write_files(
    out_dir: str | os.PathLike[str],
    model: dict[str, Any],
    pre_tokenizer: dict[str, Any],
    decoder: dict[str, Any],
    special_ids: Mapping[str, int],
    named: dict[str, str],
) -> None:
    """tokenizer.json plus the two config files transformers reads the special tokens from."""
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, TOKENIZER_JSON)
    if os.path.exists(target):
        try:
            existing = read_json_file(target)
        except ValueError:
            existing = None  # not ours, nor anything we could read back: replace it
        if isinstance(existing, dict) and existing.get("format") == FILE_FORMAT:
            raise ValueError(
                f"{target} is a tinytorch tokenizer file (a run directory's?); save_pretrained "
                "would replace it: choose another directory"
            )
    added = [
        {
            "id": i,
            "content": name,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for name, i in sorted(special_ids.items(), key=lambda item: item[1])
    ]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": decoder,
        "model": model,
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        **named,
    }
    for name, content in (
        (TOKENIZER_JSON, tokenizer),
        (CONFIG_FILES[1], config),
        (CONFIG_FILES[0], named),
    ):
        text = json.dumps(content, ensure_ascii=False, indent=1)
        atomic_write_bytes(os.path.join(out_dir, name), text.encode("utf-8"))
