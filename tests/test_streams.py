"""A population's streams from their seed words in one numpy pass (agents/base.py stream_words) against numpy's
SeedSequence, member by member: the same seed words and the same draws, for small and large master seeds."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import _name_key, stream, stream_of, stream_words


@pytest.mark.parametrize("seed", [0, 1, 7, 2 ** 31 + 5, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, 2 ** 64 + 12345, 2 ** 130 + 1])
def test_seed_words_are_seed_sequences(seed):
    index = np.array([0, 1, 2, 3, 17, 999, 9_000, 65_536, 2 ** 31, 2 ** 32 - 1])
    words = stream_words(seed, ("agent", "directional"), index)
    for row, i in zip(words, index.tolist()):
        key = (_name_key("agent"), _name_key("directional"), i)
        ref = np.random.SeedSequence(entropy=seed, spawn_key=key).generate_state(4, np.uint64)
        assert row.tolist() == ref.tolist()


@pytest.mark.parametrize("keys", [("agent", "farmer"), ("x",), ("a", "b", "c", 5), ()])
def test_generators_draw_alike(keys):
    words = stream_words(3, keys, np.arange(50))
    for i in range(50):
        a, b = stream(3, *keys, i), stream_of(words[i])
        assert a.random(5).tolist() == b.random(5).tolist()
        assert a.exponential(2.0, 3).tolist() == b.exponential(2.0, 3).tolist()
        assert a.bit_generator.state == b.bit_generator.state


def test_bad_index():
    with pytest.raises(ValueError):
        stream_words(0, ("a",), np.array([-1]))


# ------------------------------------------------------- the population's generators as one array (agents/streams_nb.py)
@pytest.mark.parametrize("seed", [0, 5, 2 ** 40 + 3])
def test_array_streams_seed_as_pcg64(seed):
    from agents.streams_nb import Streams
    words = stream_words(seed, ("agent", "directional"), np.arange(300))
    s = Streams(words)
    for i in range(300):
        ref = stream_of(words[i]).bit_generator.state["state"]
        assert (int(s.state[i, 0]) << 64) | int(s.state[i, 1]) == ref["state"]
        assert (int(s.state[i, 2]) << 64) | int(s.state[i, 3]) == ref["inc"]


def test_array_streams_draw_as_generators_interleaved():
    """Members drawn in a random order, random() and exponential() mixed, each member's numbers its Generator's."""
    from agents.streams_nb import Streams
    words = stream_words(9, ("agent", "directional"), np.arange(100))
    s = Streams(words)
    gens = [stream_of(w) for w in words]
    order = np.random.default_rng(1).integers(0, 100, (600, 40))
    for r, idx in enumerate(order):
        if r % 4 == 0:
            assert [s.of(i).random() for i in idx.tolist()] == [gens[i].random() for i in idx.tolist()]
        elif r % 4 == 1:
            assert [s.of(i).exponential(3.0) for i in idx.tolist()] == [gens[i].exponential(3.0) for i in idx.tolist()]
        else:
            assert s.exponential(idx, 30.0).tolist() == [gens[i].exponential(30.0) for i in idx.tolist()]


def test_array_streams_edge_words_and_many_mixed_draws():
    """Seed words at their edges (zeros, all ones, top bits) and raw random ones; 300,000 draws of random() and
    exponential() at several scales, members in random order with repeats: every number numpy's."""
    from agents.streams_nb import Streams
    top = np.uint64(1) << np.uint64(63)
    words = np.array([[0, 0, 0, 0], [2 ** 64 - 1] * 4, [top, 0, top, 0], [0, top, 0, top], [1, 2, 3, 4]]
                     + np.random.default_rng(5).integers(0, 2 ** 63, (27, 4)).tolist(), dtype=np.uint64)
    s = Streams(words)
    gens = [stream_of(w) for w in words]
    rng = np.random.default_rng(2)
    for r in range(1_000):
        idx = rng.integers(0, len(words), 300)
        if r % 5 == 0:
            assert [s.of(i).random() for i in idx[:30].tolist()] == [gens[i].random() for i in idx[:30].tolist()]
        else:
            scale = (1.0, 60.0, 2.0 ** -30, 1e300)[r % 4]
            assert s.exponential(idx, scale).tolist() == [gens[i].exponential(scale) for i in idx.tolist()]
    for i, g in enumerate(gens):   # the end states too
        st = g.bit_generator.state["state"]
        assert (int(s.state[i, 0]) << 64) | int(s.state[i, 1]) == st["state"]


def test_array_streams_refuse_what_numpy_refuses():
    from agents.streams_nb import Streams
    s = Streams(stream_words(1, ("agent", "directional"), np.arange(3)))
    for bad in (-1, 3):
        with pytest.raises(IndexError):
            s.of(bad)
        with pytest.raises(IndexError):
            s.exponential(np.array([0, bad]), 1.0)
    with pytest.raises(ValueError):
        s.exponential(np.array([0]), -1.0)
    with pytest.raises(ValueError):
        s.of(0).exponential(-0.5)
    assert s.state.tolist() == Streams(stream_words(1, ("agent", "directional"), np.arange(3))).state.tolist()


def test_a_model_without_the_array_draws_the_same(monkeypatch):
    """With the array unavailable (model.Streams None: each trader's own Generator from its seed words), a small
    world's series and metrics are the same bits."""
    import model
    from tests.golden.fingerprint import fingerprint
    ov = ["population=small", "steps=150", "seed=4", "dashboard=false", "progress=false"]
    a = fingerprint(ov)
    monkeypatch.setattr(model, "Streams", None)
    b = fingerprint(ov)
    assert a == b


@pytest.mark.slow
def test_array_streams_ziggurat_tails():
    """Millions of draws from one member: the ziggurat's rejection branches (about 1%) and its tail past r
    (hundreds of draws) give numpy's numbers too."""
    from agents.streams_nb import Streams
    words = stream_words(11, ("agent", "directional"), np.arange(2))
    s = Streams(words)
    g = stream_of(words[1])
    ref = g.exponential(2.0, size=2_000_000)
    got = s.exponential(np.ones(2_000_000, np.int64), 2.0)
    assert (ref > 2.0 * 7.6971174701310497).sum() > 500   # the tail branch was taken
    assert np.array_equal(got, ref)
    assert [s.of(1).random() for _ in range(100)] == g.random(100).tolist()
