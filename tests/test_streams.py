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
