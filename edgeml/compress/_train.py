"""Fine-tuning shared by pruning and quantization-aware training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._tf import keras as _keras
from .._tf import set_seed

__all__ = ["FitSettings", "fine_tune", "evaluate_float"]


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0
    patience: int = 6          # early stopping on validation loss; 0 = off


def fine_tune(model: Any, dataset: Any, fit: FitSettings, *, lr: float | None = None,
              callbacks: list[Any] | None = None, early_stop: bool = True) -> int:
    """Compile and train ``model`` in place on ``dataset``; return the epochs run."""
    keras = _keras()
    set_seed(fit.seed)
    model.compile(optimizer=keras.optimizers.Adam(lr if lr is not None else fit.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cbs = list(callbacks or [])
    if early_stop and fit.patience > 0:
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3,
                                                     patience=max(1, fit.patience // 2)))
        cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=fit.patience,
                                                 restore_best_weights=True))
    hist = model.fit(dataset.x_train, dataset.y_train,
                     validation_data=(dataset.x_val, dataset.y_val),
                     epochs=max(1, int(fit.epochs)), batch_size=int(fit.batch_size),
                     verbose=0, callbacks=cbs)
    return len(hist.history.get("loss", []))


def evaluate_float(model: Any, x: Any, y: Any) -> float:
    import numpy as np

    probs = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == y))
