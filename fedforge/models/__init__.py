"""fedforge.models: the model factory; importing this package registers FedForgeCNN and the GroupNorm-capable
FedForge ResNet with the Auto classes, so `AutoModelForImageClassification.from_pretrained(dir)` loads our checkpoints."""
from transformers import AutoConfig, AutoModelForImageClassification

from fedforge.models.cnn import FedForgeCNNConfig, FedForgeCNNForImageClassification
from fedforge.models.resnet import FedForgeResNetConfig, FedForgeResNetForImageClassification

for _config, _model in ((FedForgeCNNConfig, FedForgeCNNForImageClassification),
                        (FedForgeResNetConfig, FedForgeResNetForImageClassification)):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForImageClassification.register(_config, _model, exist_ok=True)

__all__ = ["FedForgeCNNConfig", "FedForgeCNNForImageClassification", "FedForgeResNetConfig",
           "FedForgeResNetForImageClassification"]
