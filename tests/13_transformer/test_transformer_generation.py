import numpy as np
import pytest

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.random import default_generator, get_rng_state, manual_seed
from tinytorch.models.generation import sample_next_token
from tinytorch.models.transformer import GPT

V, D, L, H, T = 30, 32, 2, 4, 16
ALL_ENCODINGS = ["learned", "sinusoidal", "rope", "alibi", None]


def _model(pos_encoding="learned", max_seq_len=T, seed=0):
    manual_seed(seed)
    # Untied: an untrained tied model mostly repeats its last token, which would make greedy
    # comparisons trivial. Sharper logits than at initialisation avoid near-ties.
    model = GPT(V, D, L, H, max_seq_len, pos_encoding=pos_encoding, tie_weights=False)
    model.lm_head.weight.data *= 20.0
    return model


def _greedy_without_cache(model, ids, steps, window=None):
    """Reference: re-run the whole (optionally cropped) sequence for every new token."""
    for _ in range(steps):
        context = ids if window is None else ids[:, -window:]
        logits = model(context).data[:, -1]
        ids = np.concatenate([ids, logits.argmax(-1)[:, None]], axis=1)
    return ids


def _prompt(batch=2, length=4, seed=1):
    return np.random.default_rng(seed).integers(0, V, size=(batch, length))


@pytest.mark.parametrize("pos_encoding", ALL_ENCODINGS)
def test_cached_greedy_generation_equals_recomputing_everything(pos_encoding):
    model = _model(pos_encoding)
    model.eval()
    prompt = _prompt()
    out = model.generate(prompt, 12, temperature=0)
    assert out.dtype == np.int64 and out.shape == (2, 16)
    np.testing.assert_array_equal(out, _greedy_without_cache(model, prompt, 12))
    np.testing.assert_array_equal(out[:, :4], prompt)


def test_one_dimensional_prompt_gives_one_dimensional_output():
    model = _model()
    prompt = _prompt()
    single = model.generate(prompt[1], 5, temperature=0)
    assert single.shape == (9,)
    np.testing.assert_array_equal(single, model.generate(prompt, 5, temperature=0)[1])


def test_generate_runs_in_eval_mode_and_restores_training_mode():
    manual_seed(0)
    model = GPT(V, D, L, H, T, dropout=0.5)
    model.train()
    prompt = _prompt()
    first = model.generate(prompt, 6, temperature=0)
    second = model.generate(prompt, 6, temperature=0)  # dropout off: deterministic
    np.testing.assert_array_equal(first, second)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    np.testing.assert_array_equal(first, _greedy_without_cache(model, prompt, 6))


def test_seeded_sampling_is_reproducible_and_leaves_the_global_generator_alone():
    model = _model()
    model.lm_head.weight.data /= 20.0  # flat distributions: samples differ between seeds
    prompt = _prompt()
    state = get_rng_state()
    a = model.generate(prompt, 10, seed=123)
    b = model.generate(prompt, 10, seed=123)
    c = model.generate(prompt, 10, seed=124)
    assert get_rng_state() == state
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Without a seed, sampling draws from the default generator (so manual_seed repeats it).
    manual_seed(9)
    d = model.generate(prompt, 10)
    manual_seed(9)
    np.testing.assert_array_equal(model.generate(prompt, 10), d)
    before = default_generator().bit_generator.state
    model.generate(prompt, 1)
    assert default_generator().bit_generator.state != before


def test_sample_next_token_temperature_and_top_k():
    rng = np.random.default_rng(0)
    logits = np.array([[0.0, 1.0, 3.0, 2.0], [5.0, 0.0, 0.0, 4.0]], np.float32)
    np.testing.assert_array_equal(sample_next_token(logits, 0.0, None, rng), [2, 0])
    draws = np.stack([sample_next_token(logits, 1.0, 2, rng) for _ in range(400)])
    assert set(draws[:, 0]) == {2, 3} and set(draws[:, 1]) == {0, 3}
    # top_k=1 is greedy whatever the temperature.
    np.testing.assert_array_equal(sample_next_token(logits, 5.0, 1, rng), [2, 0])
    # Frequencies follow softmax(logits / temperature).
    draws = np.array([sample_next_token(logits[:1], 2.0, None, rng)[0] for _ in range(4000)])
    expected = np.exp(logits[0] / 2.0) / np.exp(logits[0] / 2.0).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 4000, expected, atol=0.03)


def test_eos_pads_finished_rows_and_stops_when_all_are_done():
    model = _model()
    model.eval()
    prompt = _prompt(seed=2)
    plain = model.generate(prompt, 12, temperature=0)
    new = plain[:, 4:]
    # An eos that row 0 produces (not at its first step) and row 1 never does.
    candidates = [t for t in new[0, 1:] if t not in new[1]]
    assert candidates, "the fixture model should produce distinct continuations"
    eos = int(candidates[0])
    stop = 4 + int(np.flatnonzero(new[0] == eos)[0])
    out = model.generate(prompt, 12, temperature=0, eos_id=eos)
    assert out.shape == plain.shape
    np.testing.assert_array_equal(out[0, : stop + 1], plain[0, : stop + 1])
    assert np.all(out[0, stop:] == eos)
    np.testing.assert_array_equal(out[1], plain[1])
    # A single row stops right after its eos.
    single = model.generate(prompt[0], 12, temperature=0, eos_id=eos)
    np.testing.assert_array_equal(single, plain[0, : stop + 1])


def test_table_positions_refuse_to_exceed_max_seq_len_unless_the_window_slides():
    model = _model("learned", max_seq_len=8)
    model.eval()
    prompt = _prompt(length=5)
    with pytest.raises(ValueError, match=r"5 \+ max_new_tokens 4 = 9 exceeds maximum .* 8"):
        model.generate(prompt, 4)
    out = model.generate(prompt, 10, temperature=0, sliding_window=True)
    assert out.shape == (2, 15)
    np.testing.assert_array_equal(out, _greedy_without_cache(model, prompt, 10, window=8))
    # A prompt longer than the window is cropped to its last max_seq_len tokens.
    long_prompt = _prompt(length=11)
    out = model.generate(long_prompt, 3, temperature=0, sliding_window=True)
    np.testing.assert_array_equal(out, _greedy_without_cache(model, long_prompt, 3, window=8))


@pytest.mark.parametrize("pos_encoding", ["rope", "alibi"])
def test_relative_positions_generate_past_max_seq_len(pos_encoding):
    model = _model(pos_encoding, max_seq_len=6)
    model.eval()
    prompt = _prompt(length=4)
    out = model.generate(prompt, 8, temperature=0)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out, _greedy_without_cache(model, prompt, 8))


def test_generate_rejects_bad_arguments():
    model = _model()
    prompt = _prompt()
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0, got -0.5"):
        model.generate(prompt, 3, temperature=-0.5)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 3, temperature=float("nan"))
    with pytest.raises(ValueError, match=rf"top_k must be an integer in \[1, {V}\].*got 0"):
        model.generate(prompt, 3, top_k=0)
    with pytest.raises(ValueError, match=f"got {V + 1}"):
        model.generate(prompt, 3, top_k=V + 1)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 0, got -1"):
        model.generate(prompt, -1)
    with pytest.raises(IndexOutOfRangeError, match=f"eos_id {V} is out of range"):
        model.generate(prompt, 3, eos_id=V)
    with pytest.raises(TypeError, match="integer token ids"):
        model.generate(prompt.astype(np.float32), 3)
    with pytest.raises(ValueError, match=r"seq_len >= 1, got \(2, 0\)"):
        model.generate(np.zeros((2, 0), np.int64), 3)
    with pytest.raises(IndexOutOfRangeError, match="out of range"):
        model.generate(np.array([1, V + 3]), 3)
    np.testing.assert_array_equal(model.generate(prompt, 0), prompt)
