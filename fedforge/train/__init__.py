"""fedforge.train: Trainer-based training, evaluation metrics and the device policy."""
