"""cnnzoo: train, take apart and look inside the classic CNNs.

The core library: tensors and PIL images in and out; it never imports gradio.
"""
from cnnzoo.registry import create_model, list_models, model_info, model_knobs, register_model
from cnnzoo.trace import reduction_arithmetic, trace
from cnnzoo.cam import cam_topk, class_activation_map, compute_cam

__version__ = "0.1.0"

__all__ = [
    "create_model", "list_models", "model_info", "model_knobs", "register_model",
    "trace", "reduction_arithmetic", "class_activation_map", "cam_topk", "compute_cam", "__version__",
]  # fmt: skip
