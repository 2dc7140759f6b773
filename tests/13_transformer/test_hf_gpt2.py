"""GPT.from_pretrained and the GPT-2 export, with transformers as the oracle: the same logits,
the same greedy tokens, the same training step, exact round trips, and one clear refusal for
each thing tinytorch cannot load (fixtures: tests/hf_gpt2_fixtures.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import torch
from transformers import GPT2LMHeadModel

from tests.hf_gpt2_fixtures import ENDOFTEXT, SHAPE, GPT2Files, random_gpt2, transformers_warnings
from tinytorch.core.optimizers import AdamW
from tinytorch.core.random import get_rng_state, manual_seed
from tinytorch.hf_export import ExportError, export_gpt2
from tinytorch.models.hf_weight_files import PretrainedError
from tinytorch.models.transformer import GPT
from tinytorch.pretrained import load_pretrained
from tinytorch.text.tokenization import CharTokenizer

TOLERANCE = 1e-4
WEIGHTS = "model.safetensors"


def torch_logits(model: GPT2LMHeadModel, ids: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(ids)).logits.numpy()


@pytest.fixture(scope="module")
def ids(gpt2_files: GPT2Files) -> np.ndarray:
    """Two rows of 300 token ids of real text the tokenizer never saw."""
    tokenizer = load_pretrained(gpt2_files.directory).tokenizer
    return tokenizer.encode_array(gpt2_files.text[:20_000])[:600].reshape(2, 300)


@pytest.fixture(scope="module")
def theirs(gpt2_files: GPT2Files) -> GPT2LMHeadModel:
    return gpt2_files.transformers_model()


# ------------------------------------------------------------------------------ import
@pytest.mark.parametrize("layout", ["one file", "shards"])
def test_logits_equal_transformers(gpt2_files, ids, theirs, layout) -> None:
    directory = gpt2_files.directory if layout == "one file" else gpt2_files.sharded
    if layout == "shards":  # the index path, not a single file
        assert not (directory / WEIGHTS).exists()
        assert len(list(directory.glob("model-*-of-*.safetensors"))) > 1
    model = GPT.from_pretrained(directory)
    expected = torch_logits(theirs, ids)
    assert np.abs(expected).max() > 1.0  # logits with something to get wrong
    assert np.abs(model(ids).data - expected).max() <= TOLERANCE
    assert model.config.max_seq_len == SHAPE["n_positions"] and model.config.dropout == 0.1
    assert not model.training  # as transformers returns it


def test_greedy_generation_equals_transformers(gpt2_files, ids, theirs) -> None:
    prompt = ids[0, :20]
    ours = GPT.from_pretrained(gpt2_files.directory).generate(prompt, 60, temperature=0)
    expected = theirs.generate(torch.from_numpy(prompt[None]), do_sample=False, max_new_tokens=60)
    assert expected.shape == (1, 80)
    assert len(set(ours[20:].tolist())) > 5  # not one token repeated
    np.testing.assert_array_equal(ours, expected[0].numpy())


def test_tokenizer_gives_transformers_ids(gpt2_files) -> None:
    text = gpt2_files.text[:30_000].replace("\n\n\n", f"\n{ENDOFTEXT}\n")
    assert ENDOFTEXT in text
    ours = load_pretrained(gpt2_files.directory).tokenizer
    expected = gpt2_files.transformers_tokenizer()(text)["input_ids"]
    assert ours.encode(text, allowed_special="all") == expected


def test_loading_draws_no_random_numbers(gpt2_files) -> None:
    manual_seed(3)
    state = get_rng_state()
    GPT.from_pretrained(gpt2_files.directory)
    assert get_rng_state() == state  # a seeded run after a load is the run without it


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_weights_widen_exactly(tmp_path, ids, dtype) -> None:
    half = random_gpt2().to(dtype)
    half.save_pretrained(tmp_path)
    model = GPT.from_pretrained(tmp_path)
    widened = half.float()
    wte = widened.transformer.wte.weight.detach().numpy()
    np.testing.assert_array_equal(model.embedding.token_embedding.weight.data, wte)
    c_fc = widened.transformer.h[1].mlp.c_fc.weight.detach().numpy()
    np.testing.assert_array_equal(model.blocks[1].mlp[0].weight.data, c_fc.T)
    assert np.abs(model(ids).data - torch_logits(widened, ids)).max() <= TOLERANCE


# ------------------------------------------------------------------------ round trips
def test_transformers_to_tinytorch_to_transformers_is_exact(gpt2_files, theirs, tmp_path) -> None:
    loaded = load_pretrained(gpt2_files.directory)
    export_gpt2(loaded.model, loaded.tokenizer, tmp_path / "out")
    with transformers_warnings() as caught:
        again, info = GPT2LMHeadModel.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert caught == [] and all(not v for v in info.values()), (caught, info)
    original = theirs.state_dict()
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, original[name]), name
    text = gpt2_files.text[:5000]
    assert gpt2_files.transformers_tokenizer()(text)["input_ids"] == loaded.tokenizer.encode(text)


def _tinytorch_model(vocab_size: int, **config: object) -> GPT:
    """A GPT with every parameter random (LayerNorm scales and biases too)."""
    manual_seed(0)
    model = GPT(vocab_size=vocab_size, embed_dim=24, num_layers=2, num_heads=3, max_seq_len=40,
                **config)
    rng = np.random.default_rng(1)
    for _, parameter in model.named_parameters():
        parameter.data[...] = rng.normal(0.0, 0.2, parameter.shape)
    return model.eval()


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"tie_weights": False, "activation": "relu", "mlp_hidden_dim": 40},
        {"activation": "gelu", "layer_norm_eps": 1e-3},
        {"pos_encoding": "sinusoidal"},
    ],
    ids=["gpt2", "untied-relu-mlp40", "gelu-eps", "sinusoidal"],
)
def test_tinytorch_to_transformers_and_back(gpt2_files, tmp_path, config) -> None:
    tokenizer = CharTokenizer.from_text(gpt2_files.text[:3000])
    model = _tinytorch_model(tokenizer.vocab_size, **config)
    ids = tokenizer.encode_array(gpt2_files.text[3000:3080]).reshape(2, 40)
    written = export_gpt2(model, tokenizer, tmp_path / "out")
    assert written == ["config.json", WEIGHTS, "special_tokens_map.json", "tokenizer.json",
                       "tokenizer_config.json"]
    with transformers_warnings() as caught:
        theirs, info = GPT2LMHeadModel.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert caught == [] and all(not v for v in info.values()), (caught, info)
    assert np.abs(torch_logits(theirs.eval(), ids) - model(ids).data).max() <= TOLERANCE
    again = GPT.from_pretrained(tmp_path / "out")
    np.testing.assert_array_equal(again(ids).data, model(ids).data)
    if config.get("pos_encoding") == "sinusoidal":  # the fixed table became a learned one
        table = model.embedding.position_encoding.pe.data
        np.testing.assert_array_equal(again.embedding.position_encoding.weight.data, table)
    assert again.config.to_dict() == {**model.config.to_dict(), "pos_encoding": "learned"}


def test_one_training_step_equals_pytorch(gpt2_files, ids) -> None:
    """The same batch gives the same loss, and after one AdamW step, the same loss again."""
    ours = GPT.from_pretrained(gpt2_files.directory, dropout=0.0).train()
    theirs = GPT2LMHeadModel.from_pretrained(
        gpt2_files.directory, embd_pdrop=0.0, attn_pdrop=0.0, resid_pdrop=0.0
    ).train()
    batch = ids[:, :65]  # inputs batch[:, :-1], targets batch[:, 1:] (transformers shifts)
    hyper = dict(lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    our_optimizer = AdamW(ours.parameters(), **hyper)
    their_optimizer = torch.optim.AdamW(theirs.parameters(), **hyper)
    losses = []
    for _ in range(2):
        _, loss = ours(batch[:, :-1], batch[:, 1:])
        their_loss = theirs(input_ids=torch.from_numpy(batch), labels=torch.from_numpy(batch)).loss
        losses.append((loss.item(), their_loss.item()))
        for optimizer, value in ((our_optimizer, loss), (their_optimizer, their_loss)):
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
    (before, their_before), (after, their_after) = losses
    assert before == pytest.approx(their_before, abs=1e-5)
    assert after == pytest.approx(their_after, abs=1e-4)
    assert after < before - 0.05  # the step changed the model, both alike


# ------------------------------------------------------------------------- refusals
def _altered(
    source: Path,
    target: Path,
    config: dict | None = None,
    tensors: Callable[[dict], None] | None = None,
) -> Path:
    """A copy of `source` with config.json's keys updated and model.safetensors edited."""
    shutil.copytree(source, target)
    if config is not None:
        data = json.loads((target / "config.json").read_text())
        (target / "config.json").write_text(json.dumps({**data, **config}))
    if tensors is not None:
        arrays = safetensors.numpy.load_file(target / WEIGHTS)
        tensors(arrays)
        safetensors.numpy.save_file(arrays, target / WEIGHTS, metadata={"format": "pt"})
    return target


def _set(name: str, value: np.ndarray) -> Callable[[dict], None]:
    return lambda arrays: arrays.__setitem__(name, value)


def _nan(arrays: dict) -> None:
    arrays["transformer.h.1.mlp.c_proj.weight"][3, 4] = np.nan


REFUSALS = {
    "llama": (dict(config={"model_type": "llama"}), "model_type 'llama' is not supported"),
    "inverse-layer-idx": (dict(config={"scale_attn_by_inverse_layer_idx": True}),
                          "scale_attn_by_inverse_layer_idx=true is not supported"),
    "upcast": (dict(config={"reorder_and_upcast_attn": True}),
               "reorder_and_upcast_attn=true is not supported"),
    "cross-attention": (dict(config={"add_cross_attention": True}),
                        "add_cross_attention=true is not supported"),
    "unscaled-attention": (dict(config={"scale_attn_weights": False}),
                           "scale_attn_weights=false is not supported"),
    "activation": (dict(config={"activation_function": "silu"}),
                   "activation_function 'silu' is not supported"),
    "dropouts-differ": (dict(config={"attn_pdrop": 0.2}), "differ, and tinytorch's GPT has one"),
    "heads": (dict(config={"n_head": 5}), "n_head: must divide embed_dim 32, got 5"),
    "huge-config": (dict(config={"n_embd": 32_000}), "declares a model of"),
    "missing": (dict(tensors=lambda a: a.pop("transformer.h.1.ln_2.bias")),
                "tensor 'transformer.h.1.ln_2.bias' is missing (config.json implies shape (32,))"),
    "shape": (dict(tensors=_set("transformer.ln_f.weight", np.ones(31, np.float32))),
              "tensor 'transformer.ln_f.weight' has shape (31,), config.json implies (32,)"),
    "unexpected": (dict(tensors=_set("transformer.h.0.attn.extra", np.ones(2, np.float32))),
                   "unexpected tensor 'transformer.h.0.attn.extra'"),
    "nan": (dict(tensors=_nan), "tensor 'transformer.h.1.mlp.c_proj.weight' holds NaN"),
    "integer-weights": (dict(tensors=_set("transformer.ln_f.bias", np.zeros(32, np.int64))),
                        "tensor 'transformer.ln_f.bias' has dtype I64"),
    "untied-head-differs": (
        dict(tensors=_set("lm_head.weight", np.ones((1000, 32), np.float32))),
        "lm_head.weight differs from transformer.wte.weight",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_name_the_problem(gpt2_files, tmp_path, case) -> None:
    changes, fragment = REFUSALS[case]
    directory = _altered(gpt2_files.directory, tmp_path / "gpt2", **changes)
    with pytest.raises(PretrainedError, match="^" + str(directory)) as info:
        GPT.from_pretrained(directory)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_a_run_directory_is_pointed_to_load_run(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"format": "tinytorch.checkpoint", "version": 1}')
    with pytest.raises(PretrainedError, match="a tinytorch run's config.*load_run$"):
        GPT.from_pretrained(tmp_path)


def test_a_tokenizer_of_another_size_is_refused(gpt2_files, tmp_path) -> None:
    def grow_vocabulary(arrays: dict) -> None:
        wte = arrays["transformer.wte.weight"]
        arrays["transformer.wte.weight"] = np.concatenate([wte, wte[:1]])

    directory = _altered(gpt2_files.directory, tmp_path / "gpt2", config={"vocab_size": 1001},
                         tensors=grow_vocabulary)
    assert GPT.from_pretrained(directory).config.vocab_size == 1001  # the model alone loads
    with pytest.raises(PretrainedError, match="the tokenizer has 1000 tokens but the model 1001"):
        load_pretrained(directory)


def test_a_tied_head_stored_anyway_is_accepted(gpt2_files, tmp_path, ids, theirs) -> None:
    def store_head(arrays: dict) -> None:
        arrays["lm_head.weight"] = arrays["transformer.wte.weight"].copy()

    directory = _altered(gpt2_files.directory, tmp_path / "gpt2", tensors=store_head)
    model = GPT.from_pretrained(directory)
    assert np.abs(model(ids).data - torch_logits(theirs, ids)).max() <= TOLERANCE


def test_names_without_the_transformer_prefix_and_mask_buffers_load(
    gpt2_files, tmp_path, ids, theirs
) -> None:
    """Like the original GPT-2 checkpoint: `h.0.attn.c_attn.weight`, plus `h.0.attn.bias`."""

    def as_gpt2model(arrays: dict) -> None:
        for name in list(arrays):
            arrays[name.removeprefix("transformer.")] = arrays.pop(name)
        for i in range(SHAPE["n_layer"]):
            arrays[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 8, 8), np.float32))
            arrays[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)

    directory = _altered(gpt2_files.directory, tmp_path / "gpt2", tensors=as_gpt2model)
    assert "h.0.attn.c_attn.weight" in safetensors.numpy.load_file(directory / WEIGHTS)
    model = GPT.from_pretrained(directory)
    assert np.abs(model(ids).data - torch_logits(theirs, ids)).max() <= TOLERANCE


def test_a_pytorch_pickle_is_refused_with_the_way_to_convert_it(gpt2_files, tmp_path) -> None:
    """What older checkpoints hold; the error table's case shows its payload never runs."""
    directory = _altered(gpt2_files.directory, tmp_path / "gpt2")
    (directory / WEIGHTS).unlink()
    torch.save(gpt2_files.transformers_model().state_dict(), directory / "pytorch_model.bin")
    with pytest.raises(PretrainedError, match="pytorch_model.bin: a pickle, which tinytorch "
                       "never loads") as info:
        GPT.from_pretrained(directory)
    assert "save_pretrained(DIR, safe_serialization=True)" in str(info.value)


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda d: (d / "model-00002-of-00005.safetensors").unlink(),
         "model-00002-of-00005.safetensors: missing (listed in model.safetensors.index.json)"),
        (lambda d: _truncate(d / "model-00001-of-00005.safetensors", 100),
         "not a valid safetensors file (the header length field says"),
        (lambda d: (d / "model.safetensors.index.json").write_text(
            '{"weight_map": {"transformer.wte.weight": "../elsewhere.safetensors"}}'),
         "shards must be .safetensors files in the same directory"),
    ],
    ids=["shard-missing", "shard-truncated", "shard-outside"],
)
def test_damaged_shards_are_refused(gpt2_files, tmp_path, damage, fragment) -> None:
    directory = _altered(gpt2_files.sharded, tmp_path / "sharded")
    damage(directory)
    with pytest.raises(PretrainedError) as info:
        GPT.from_pretrained(directory)
    assert fragment in str(info.value)


def test_rope_models_cannot_be_exported(tmp_path) -> None:
    tokenizer = CharTokenizer.from_text("abc")
    model = _tinytorch_model(tokenizer.vocab_size, pos_encoding="rope")
    with pytest.raises(ExportError, match="'rope' positions cannot be written as GPT-2"):
        export_gpt2(model, tokenizer, tmp_path / "out")
    assert not (tmp_path / "out").exists()
