"""Train the reference RNNClassifier to tell noisy sine waves apart by their frequency.

    python examples/train_classifier.py [--seed 0] [--plot loss_curves.png]

Each sequence is T = 50 samples of ``sin(2 pi f t + phase)`` with a random phase and amplitude,
plus Gaussian noise; its class is one of four frequencies f. The script prints the validation
accuracy and the training time, and saves the loss curves when matplotlib is installed (it is
optional: without it the script only says so).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

# The products here are tiny ((50, 32) @ (32, 32)): a second BLAS thread only adds
# synchronisation, which made training ten times slower on a busy 2-core machine. Before NumPy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

from reference_rnn.training.models import RNNClassifier
from reference_rnn.training.optim import Adam

FREQUENCIES = (1.0, 2.0, 3.0, 4.0)  # cycles per sequence: one class each
T = 50


def sine_waves(
    n: int, rng: np.random.Generator, noise: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, T, 1)`` noisy sine waves and ``y (n,)`` the index of each one's frequency."""
    y = rng.integers(0, len(FREQUENCIES), n)
    t = np.linspace(0, 1, T, endpoint=False)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    f = np.asarray(FREQUENCIES)[y][:, None]
    X = amplitude * np.sin(2 * np.pi * f * t + phase) + noise * rng.standard_normal((n, T))
    return X[:, :, None], y  # (n, T) -> (n, T, D = 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=Path("loss_curves.png"))
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    X, y = sine_waves(2000, rng)
    X_val, y_val = sine_waves(500, rng)
    model = RNNClassifier(
        32, optimizer=Adam(lr=0.003), epochs=20, batch_size=50, clip=1.0, seed=args.seed
    )
    start = time.perf_counter()
    model.fit(X, y, X_val, y_val)
    seconds = time.perf_counter() - start
    accuracy = np.mean(model.predict(X_val) == y_val)
    print(f"validation accuracy {accuracy:.1%} after {model.epochs} epochs in {seconds:.1f} s")
    print(
        f"final loss {model.loss_history[-1]:.4f}, validation loss {model.val_loss_history[-1]:.4f}"
    )

    try:
        import matplotlib as mpl
    except ImportError:
        print("matplotlib is not installed: no loss curves")
        return
    mpl.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    epochs = np.arange(1, model.epochs + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, model.loss_history, label="training (mean over the epoch)")
    ax.plot(epochs, model.val_loss_history, label="validation (after the epoch)")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title="RNNClassifier on noisy sine waves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=100)
    print(f"loss curves: {args.plot}")


if __name__ == "__main__":
    main()
