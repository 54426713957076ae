"""Class activation maps: where a CNN looks when it names a class, and the box that follows.

Zhou, Khosla, Lapedriza, Oliva & Torralba, "Learning Deep Features for Discriminative
Localization", CVPR 2016 (arXiv:1512.04150). A network that ends in global average pooling
(GAP) and one linear layer scores class c as

    S_c = Σ_k w_k^c F_k + b_c,        F_k = 1/(hw) Σ_{x,y} f_k(x, y)

where f_k is channel k of the last feature map (h × w) and w_k^c, b_c are the linear layer's
weight and bias. Swapping the two sums gives the class activation map (CAM)

    M_c(x, y) = Σ_k w_k^c f_k(x, y)          and then      S_c = mean_{x,y} M_c(x, y) + b_c:

the score is the average of M_c plus the bias, so M_c(x, y) is how much location (x, y)
contributes to "this is a c". Upsampled to the image it shows where the evidence lies;
thresholding it gives a box learned from class labels alone (weakly supervised localisation).

The paper sets the bias to 0 (seed 000 a); cnnzoo's heads keep b_c (ClassifierHead, one head
for every net, torchvision's fc.bias included). b_c adds a per-class constant to S_c (it can
change which class ranks first) and nothing to M_c(x, y) = Σ_k w_k^c f_k(x, y): the maps, and
the boxes drawn from them, are what the paper's would be for the same w.

Global max pooling (GMP), the paper's comparison: the same maps M_c, but the read-out is
S_c = Σ_k w_k^c max_{x,y} f_k(x, y) + b_c. Each channel contributes from its own peak, and the
peaks may sit in different places, so S_c is *not* max_{x,y} M_c + b_c (nor its mean + b_c).

Heads other than pooling + linear (inception_mnist flattens its 4×4 map into the linear layer)
get Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391) on the same forward_features map:

    α_k^c = mean_{x,y} ∂S_c/∂f_k(x, y),       L_c(x, y) = ReLU(Σ_k α_k^c f_k(x, y)).

For a GAP + linear head ∂S_c/∂f_k(x, y) = w_k^c / (hw), so Grad-CAM is ReLU(M_c) / (hw): CAM
is its special case. Results say which method made them (`CAMResult.method`): label pictures.

No hooks are needed: every cnnzoo classifier exposes forward_features / forward_head, so the
feature map and the head are called directly and nothing is left attached to the model.

    result = cam_topk(model, x, k=3)                   # one forward pass
    boxes = cam_boxes(result.maps[:, 0], 0.5, size=result.input_size)
    picture = cnnzoo.viz.overlay_cam(image_uint8, result.maps[0, 0], box=boxes[0])

The package, by concern (as torch-cam separates methods, metrics and display):
    maps          CAMResult, compute_cam, cam_topk, class_activation_map, upsample_cam, normalize_cam
    regions       threshold_masks, largest_region (connected components), cam_boxes
    localisation  localisation_accuracy over a dataset with true boxes
    timeline      CAMTimeline: one probe image's map at every epoch of a training run
Pictures (overlays, boxes drawn, captions) are cnnzoo.viz's; boxes and IoU are cnnzoo.boxes'.
"""
from cnnzoo.boxes import box_area, box_iou, mask_boxes
from cnnzoo.cam.localisation import CURVE_THRESHOLDS, LocalisationResult, localisation_accuracy
from cnnzoo.cam.maps import (
    METHODS, CAMResult, cam_method, cam_topk, class_activation_map, compute_cam, normalize_cam, upsample_cam,
)  # fmt: skip
from cnnzoo.cam.regions import BOX_MODES, PAPER_THRESHOLD, cam_boxes, largest_region, threshold_masks
from cnnzoo.cam.timeline import CAMFrame, CAMTimeline

__all__ = [
    # maps
    "METHODS", "CAMResult", "cam_method", "compute_cam", "cam_topk", "class_activation_map",
    "upsample_cam", "normalize_cam",
    # regions and boxes
    "PAPER_THRESHOLD", "BOX_MODES", "threshold_masks", "largest_region", "cam_boxes",
    "box_area", "box_iou", "mask_boxes",
    # localisation
    "CURVE_THRESHOLDS", "LocalisationResult", "localisation_accuracy",
    # timeline
    "CAMFrame", "CAMTimeline",
]  # fmt: skip
