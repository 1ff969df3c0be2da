"""Readers for the ADBench input files in data/adbench/ (formats in data/adbench/README.md).

Each file is read as one stream of whitespace-separated tokens: some lines end in a space and
the LSTM files have blank lines, so reading token by token is the robust way.
"""

from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "adbench"


class _Tokens:
    def __init__(self, path):
        self.items = Path(path).read_text().split()
        self.pos = 0

    def ints(self, count):
        out = [int(t) for t in self.items[self.pos:self.pos + count]]
        self.pos += count
        return out

    def floats(self, *shape):
        count = int(np.prod(shape))
        out = np.array(self.items[self.pos:self.pos + count], dtype=float).reshape(shape)
        self.pos += count
        return out


def read_gmm(path=DATA / "gmm" / "test.txt"):
    """(alpha (K,), means (K, D), icf (K, D(D+1)/2), x (N, D), gamma, m)."""
    tokens = _Tokens(path)
    d, k, n = tokens.ints(3)
    alpha = tokens.floats(k)
    means = tokens.floats(k, d)
    icf = tokens.floats(k, d * (d + 1) // 2)
    x = tokens.floats(n, d)
    gamma = float(tokens.floats(1)[0])
    (m,) = tokens.ints(1)
    return alpha, means, icf, x, gamma, m


def read_ba(path=DATA / "ba" / "test.txt"):
    """(cams (n, 11), X (m, 3), w (p,), obs (p, 2) int, feats (p, 2)).

    The file holds one camera, one point, one weight and one feature; they are repeated n, m
    and p times, and observation i sees camera i mod n and point i mod m (as ADBench does).
    """
    tokens = _Tokens(path)
    n, m, p = tokens.ints(3)
    cam = tokens.floats(11)
    point = tokens.floats(3)
    weight = tokens.floats(1)[0]
    feat = tokens.floats(2)
    cams = np.tile(cam, (n, 1))
    X = np.tile(point, (m, 1))
    w = np.full(p, weight)
    feats = np.tile(feat, (p, 1))
    i = np.arange(p)
    obs = np.stack([i % n, i % m], axis=1)
    return cams, X, w, obs, feats


def read_lstm(path=DATA / "lstm" / "lstm_l2_c1024.txt"):
    """(main_params (2l, 4b), extra_params (3, b), state (2l, b), sequence (c, b))."""
    tokens = _Tokens(path)
    layers, chars, bits = tokens.ints(3)
    main_params = tokens.floats(2 * layers, 4 * bits)
    extra_params = tokens.floats(3, bits)
    state = tokens.floats(2 * layers, bits)
    sequence = tokens.floats(chars, bits)
    return main_params, extra_params, state, sequence
