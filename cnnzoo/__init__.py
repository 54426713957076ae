"""cnnzoo: train, take apart and look inside the classic CNNs.

The core library: tensors and PIL images in and out; it never imports gradio.
"""
from cnnzoo.registry import create_model, list_models, model_knobs, register_model
from cnnzoo.trace import reduction_arithmetic, trace

__version__ = "0.1.0"

__all__ = [
    "create_model", "list_models", "model_knobs", "register_model",
    "trace", "reduction_arithmetic", "__version__",
]  # fmt: skip
