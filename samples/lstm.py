"""ADBench's character-level LSTM: the loss of predicting each character from the ones before.

`main_params` holds, for each layer i, a row 2i of weights and a row 2i+1 of biases, each cut
into four blocks of b (forget, input, output, change); `extra_params` is the input weight, the
output weight and the output bias; `state` holds each layer's initial hidden and cell vectors;
`sequence` is one row of b bits per character. All products are element-wise, as in ADBench.
Differentiate with respect to main_params and extra_params. On data/adbench/lstm/lstm_l2_c1024.txt
the loss is 0.66666518.
"""

import numpy as np
from adbench_io import read_lstm


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_cell(weight, bias, hidden, cell, x):
    """One layer, one time step: the new hidden and cell vectors."""
    b = hidden.shape[0]
    forget = sigmoid(x * weight[0:b] + bias[0:b])
    ingate = sigmoid(hidden * weight[b:2 * b] + bias[b:2 * b])
    outgate = sigmoid(x * weight[2 * b:3 * b] + bias[2 * b:3 * b])
    change = np.tanh(hidden * weight[3 * b:] + bias[3 * b:])
    cell = cell * forget + ingate * change
    hidden = outgate * np.tanh(cell)
    return hidden, cell


def predict(main_params, extra_params, state, x):
    """One time step through every layer: the prediction and the new state."""
    new_state = np.zeros_like(state)
    x = x * extra_params[0]
    for i in range(0, state.shape[0], 2):
        hidden, cell = lstm_cell(main_params[i], main_params[i + 1], state[i], state[i + 1], x)
        new_state[i] = hidden
        new_state[i + 1] = cell
        x = hidden
    return x * extra_params[1] + extra_params[2], new_state


def objective(main_params, extra_params, state, sequence):
    n_chars, b = sequence.shape
    total = 0.0
    for t in range(n_chars - 1):
        ypred, state = predict(main_params, extra_params, state, sequence[t])
        ynorm = ypred - np.log(2 + np.sum(np.exp(ypred)))
        total = total + np.sum(sequence[t + 1] * ynorm)
    return -total / ((n_chars - 1) * b)


def example(steps=None):
    """The arguments of `objective` for ADBench's 2-layer input; `steps` characters to predict
    (the whole sequence, 1023, by default)."""
    main_params, extra_params, state, sequence = read_lstm()
    if steps is not None:
        sequence = sequence[:steps + 1]
    return main_params, extra_params, state, sequence
