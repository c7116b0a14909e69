"""fedforge.models: the model factory; importing this package registers FedForgeCNN with the Auto classes,
so `AutoModelForImageClassification.from_pretrained(dir)` can load our checkpoints."""
from transformers import AutoConfig, AutoModelForImageClassification

from fedforge.models.cnn import FedForgeCNNConfig, FedForgeCNNForImageClassification

AutoConfig.register(FedForgeCNNConfig.model_type, FedForgeCNNConfig, exist_ok=True)
AutoModelForImageClassification.register(FedForgeCNNConfig, FedForgeCNNForImageClassification, exist_ok=True)

__all__ = ["FedForgeCNNConfig", "FedForgeCNNForImageClassification"]
