"""The exercise's SimpleRNN (../shared/seed, problem 1) and its problem 2, exactly as written there.

The class is copied verbatim, mistakes included: it ignores h_prev, reads the global w_x from
the second step on, and works for a batch of one only. Check it:

    python -m reference_rnn check examples/seed_simple_rnn.py:SimpleRNN --api sprint
"""
# ruff: noqa: F841, RUF002, ARG002
# fmt: off

import numpy as np


# ゼロつく本より
# https://github.com/oreilly-japan/deep-learning-from-scratch-2/blob/master/common/time_layers.py
class SimpleRNN:
    """
    ノード数n_nodes1からn_nodes2への全結合層
    Parameters
    ----------
    n_nodes1 : int
      前の層のノード数
    n_nodes2 : int
      後の層のノード数
    initializer : 初期化方法のインスタンス
    optimizer : 最適化手法のインスタンス
    """
    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        batch_size = x.shape[0] # 1
        n_sequences = x.shape[1] # 3
        n_features = x.shape[2] # 2
        n_nodes = Wx.shape[1] # 4
        
        h_s = np.zeros((batch_size, n_sequences, n_nodes))
        tanh = np.zeros((n_sequences, n_nodes))
        for i in range(n_sequences):
            if i == 0:
                h_s[:, i, :] = np.dot(x[:, i, :], Wx) + b
                tanh[i] = np.tanh(h_s[:, i, :])
            else:
                w_h = np.dot(tanh[i-1], Wh)
                xx = np.dot(x[:, i, :], w_x)
                h_s[:, i, :] = w_h + xx + b
                tanh[i] = np.tanh(h_s[:, i, :])
        
        return tanh

x = np.array([[[1, 2], [2, 3], [3, 4]]])/100 # (batch_size, n_sequences, n_features)
w_x = np.array([[1, 3, 5, 7], [3, 5, 7, 8]])/100 # (n_features, n_nodes)
w_h = np.array([[1, 3, 5, 7], [2, 4, 6, 8], [3, 5, 7, 8], [4, 6, 8, 10]])/100 # (n_nodes, n_nodes)
batch_size = x.shape[0] # 1
n_sequences = x.shape[1] # 3
n_features = x.shape[2] # 2
n_nodes = w_x.shape[1] # 4
h = np.zeros((batch_size, n_nodes)) # (batch_size, n_nodes)
b = np.array([1, 1, 1, 1]) # (n_nodes,)

if __name__ == "__main__":
    rnn = SimpleRNN(w_x, w_h, b)

    print(rnn.forward(x, h)[-1])
