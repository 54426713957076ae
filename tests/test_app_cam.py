"""The CAM tab through a real server and gradio_client: the same numbers as cnnzoo.cam, a box
that follows the threshold, true boxes and IoU on shapes, uploads that stay on their page, and
every bad picture or checkpoint either working or getting a clear message.

The models are tiny and untrained (milliseconds to build): what is tested is the tab, not how
well a network localises. The server is the session's one app (app_url), with the CAM tab's
shipped-checkpoint folder pointed at this module's temp folder.
"""
from __future__ import annotations

import io
import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import cnnzoo.checkpoints
import ui.cam_models
import ui.cam_tab
import ui.cam_view
from cnnzoo import create_model
from cnnzoo.cam import CURVE_THRESHOLDS, box_iou, cam_boxes, cam_topk, compute_cam, localisation_accuracy
from cnnzoo.checkpoints import load_checkpoint, save_checkpoint
from cnnzoo.data import SHAPE_NAMES, load_dataset, load_image, normalize
from cnnzoo.viz import overlay_cam

SHAPES_KEY = f"shipped:{ui.cam_models.DEFAULT_CHECKPOINT}"
SHAPES_STATS = dict(mean=[0.24, 0.23, 0.24], std=[0.18, 0.18, 0.19])


def save_tiny(path: Path, model_name="simple_cnn", dataset="shapes", input_size=(3, 32, 32), seed=0, **knobs) -> Path:
    torch.manual_seed(seed)
    model = create_model(model_name, **knobs)
    c = input_size[0]
    names = SHAPE_NAMES if dataset == "shapes" else [str(d) for d in range(10)]
    stats = SHAPES_STATS if c == 3 else dict(mean=[0.5], std=[0.25])
    meta = dict(model=model_name, knobs=knobs, class_names=names, input_size=list(input_size), dataset=dataset, **stats)
    return save_checkpoint(path, model, meta)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny shapes model as the tab's default shipped checkpoint; the CAM tab's folder points here."""
    folder = tmp_path_factory.mktemp("checkpoints")
    path = save_tiny(folder / ui.cam_models.DEFAULT_CHECKPOINT, width=4)
    path.with_suffix(".md").write_text("# tiny shapes net\nIts card.\n")
    (folder / "cam-benchmark.md").write_text("# localisation\n| head | localised |\n|---|---|\n| GAP | 61% |\n| GMP | 40% |\n")
    (folder / "other.md").write_text("# another card\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cnnzoo.checkpoints, "CHECKPOINT_DIR", folder)  # what the app lists as shipped
        yield path


@pytest.fixture(scope="module")
def shapes_test():
    return load_dataset("shapes", "test")


def new_client(app_url) -> Client:
    """A fresh client is a fresh browser session on the server."""
    return Client(app_url, analytics_enabled=False, verbose=False)


def items(gallery) -> list[dict]:
    return gallery["value"] if isinstance(gallery, dict) else gallery


def value(update):
    """A component's value from an output that may be a gr.update(...) dict."""
    return update["value"] if isinstance(update, dict) else update


def png(path: Path, array: np.ndarray, **options) -> Path:
    Image.fromarray(array).save(path, **options)
    return path


def random_picture(tmp_path, seed=0, size=(32, 32)) -> Path:
    rng = np.random.default_rng(seed)
    return png(tmp_path / f"picture{seed}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))


def the_core(checkpoint: Path, picture: Path, k=5):
    """What cnnzoo.cam computes for this checkpoint and picture, without the app."""
    model, meta = load_checkpoint(checkpoint)
    c, h, w = meta["input_size"]
    image = load_image(picture, channels=c, size=h)
    return image, cam_topk(model, normalize(image[None], meta["mean"], meta["std"]), k=k), meta


def box_text(box) -> str:
    x0, y0, x1, y1 = (int(v) for v in box)
    return f"({x0}, {y0})–({x1}, {y1})"


# ---------------------------------------------------------------------------------------------
# The tab computes what the core computes
# ---------------------------------------------------------------------------------------------


def test_cam_matches_the_core(app_url, shipped, tmp_path):
    picture = random_picture(tmp_path)
    client = new_client(app_url)
    gallery, summary, probabilities, download = client.predict(
        model=SHAPES_KEY, image=handle_file(picture), top_k=3, colormap="inferno", opacity=0.4, threshold=0.35,
        api_name="/cam",
    )  # fmt: skip
    image, result, _ = the_core(shipped, picture)
    names = [SHAPE_NAMES[c] for c in result.classes[0, :3].tolist()]
    assert [c["label"] for c in probabilities["confidences"]] == names
    assert [c["confidence"] for c in probabilities["confidences"]] == pytest.approx(result.probs[0, :3].tolist(), abs=1e-6)

    shown = items(gallery)
    assert len(shown) == 4  # the input as the model sees it, then the top-3 overlays
    assert "input" in shown[0]["caption"] and "32×32" in shown[0]["caption"]
    boxes = cam_boxes(result.maps[0, :3], 0.35, size=(32, 32))
    for j in range(3):
        assert shown[j + 1]["caption"].startswith(f"{j + 1}. {names[j]} {result.probs[0, j]:.1%}")
        expected = overlay_cam(image, result.maps[0, j], colormap="inferno", opacity=0.4, box=boxes[j], size=192)
        assert np.array_equal(np.asarray(Image.open(shown[j + 1]["image"])), expected)  # pixel for pixel
    assert "CAM (global average pooling)" in summary and box_text(boxes[0]) in summary
    assert "IoU" not in summary  # an uploaded picture has no true box
    # and it is not what the model knows: the summary says what it was trained on (issue #14)
    assert "trained on **shapes** and knows only its 10 classes" in summary
    strip = Image.open(download)
    assert strip.format == "PNG" and strip.width > 4 * 192 and strip.height > 192


def test_threshold_moves_the_box_without_running_the_model(app_url, shipped, tmp_path, monkeypatch):
    picture = random_picture(tmp_path, seed=1)
    client = new_client(app_url)
    client.predict(model=SHAPES_KEY, image=handle_file(picture), api_name="/cam")
    _, result, _ = the_core(shipped, picture)

    calls = []
    monkeypatch.setattr(ui.cam_view, "cam_topk", lambda *a, **k: calls.append(1))  # the server runs in this process
    summaries = {}
    for threshold in (0.1, 0.9):
        gallery, summary, probabilities, _ = client.predict(top_k=2, threshold=threshold, api_name="/cam_redraw")
        box = cam_boxes(result.maps[0, 0], threshold, size=(32, 32))
        assert box_text(box) in summary and f"{threshold:.0%}" in summary
        assert len(items(gallery)) == 3 and len(probabilities["confidences"]) == 2
        summaries[threshold] = summary
    _, summary, _, _ = client.predict(box_mode="all", threshold=0.3, api_name="/cam_redraw")
    assert box_text(cam_boxes(result.maps[0, 0], 0.3, mode="all", size=(32, 32))) in summary
    assert "whole area above" in summary
    assert calls == []  # redrawing reuses the maps of this page's last CAM
    low, high = (cam_boxes(result.maps[0, 0], t, size=(32, 32)) for t in (0.1, 0.9))
    assert not torch.equal(low, high)  # this picture's box really moves
    assert summaries[0.1] != summaries[0.9]
    with pytest.raises(AppError, match="greater than maximum"):  # the slider's own bounds
        client.predict(threshold=1.5, api_name="/cam_redraw")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(colormap="no-such-map", api_name="/cam_redraw")


def test_a_shapes_test_image_shows_its_true_box_and_iou(app_url, shipped, shapes_test, tmp_path):
    client = new_client(app_url)
    image_path, gallery, summary, probabilities, _ = client.predict(
        model=SHAPES_KEY, threshold=0.5, api_name="/cam_random_example")
    index = int(re.fullmatch(r"shapes-32-test-(\d+)\.png", Path(image_path).name)[1])
    truth = shapes_test.boxes[index]
    _, result, _ = the_core(shipped, Path(image_path))
    box = cam_boxes(result.maps[0, 0], 0.5, size=(32, 32))
    iou = box_iou(box, truth).item()
    assert f"true box {box_text(truth)}" in summary and f"IoU {iou:.2f}" in summary
    assert f"true: {SHAPE_NAMES[shapes_test.labels[index]]}" in summary
    assert SHAPE_NAMES[shapes_test.labels[index]] in items(gallery)[0]["caption"]

    # The page knows which test image it showed (gr.State), not a file name: another picture under
    # the test image's name gets no box (the pixels are compared) ...
    impostor = png(tmp_path / Path(image_path).name, np.zeros((32, 32, 3), np.uint8))
    _, summary, _, _ = client.predict(model=SHAPES_KEY, image=handle_file(impostor), api_name="/cam")
    assert "IoU" not in summary
    # ... and on a page that never showed it, the same pixels get no claim about a box either.
    renamed = png(tmp_path / "mine.png", np.asarray(Image.open(image_path)))
    _, summary, _, _ = new_client(app_url).predict(model=SHAPES_KEY, image=handle_file(renamed), api_name="/cam")
    assert "IoU" not in summary


def test_choosing_a_model_shows_its_test_images_and_the_first_ones_cam(app_url, shipped):
    client = new_client(app_url)
    info, examples, threshold, image, gallery, summary, probabilities, download, card = client.predict(
        model=SHAPES_KEY, api_name="/cam_select_model")
    assert "simple_cnn" in info and "shapes" in info and "**CAM**" in info
    assert [e["caption"] for e in items(examples)] == SHAPE_NAMES  # one test image per class
    assert threshold == ui.cam_models.SMALL_IMAGE_THRESHOLD
    assert re.fullmatch(r"shapes-32-test-\d+\.png", Path(image).name)
    assert "IoU" in summary
    # the model's card, and the card measuring GAP against GMP; headings demoted to sit in the tab
    assert "### tiny shapes net" in card and "| GMP | 40% |" in card and "another card" not in card


# ---------------------------------------------------------------------------------------------
# Models: Grad-CAM, uploads, runs of this page, ImageNet weights, pages apart
# ---------------------------------------------------------------------------------------------


def test_a_model_without_a_gap_head_gets_grad_cam_clearly_labelled(app_url, shipped, tmp_path):
    checkpoint = save_tiny(tmp_path / "inception.safetensors", "inception_mnist", dataset="mnist", input_size=(1, 28, 28))
    client = new_client(app_url)
    model, info, examples, *_ = client.predict(checkpoint=handle_file(checkpoint), api_name="/cam_upload_checkpoint")
    model = value(model)
    assert model == "upload:inception.safetensors"
    assert "**Grad-CAM**" in info
    assert items(examples) == []  # MNIST is not on this machine: no examples, no download attempt
    picture = random_picture(tmp_path, seed=2, size=(40, 50))  # RGB, any size: made grey 28×28
    gallery, summary, probabilities, _ = client.predict(model=model, image=handle_file(picture), api_name="/cam")
    assert summary.startswith("**Grad-CAM**") and "not CAM" in summary
    assert gallery["label"].startswith("Grad-CAM")
    _, result, _ = the_core(checkpoint, picture)
    assert result.method == "Grad-CAM"
    assert [c["confidence"] for c in probabilities["confidences"]] == pytest.approx(result.probs[0, :3].tolist(), abs=1e-6)


def test_uploads_and_runs_belong_to_their_page(app_url, shipped, tmp_path):
    from ui.sessions import Run, session_for

    alice, bob = new_client(app_url), new_client(app_url)
    mine = save_tiny(tmp_path / "alices.safetensors", width=4, seed=3)
    model = value(alice.predict(checkpoint=handle_file(mine), api_name="/cam_upload_checkpoint")[0])
    # A model alice trained in the Train tab (put on her server-side session directly: no training here).
    run = save_tiny(tmp_path / "run" / "last.safetensors", width=4, seed=4)
    session_for(SimpleNamespace(session_hash=alice.session_hash)).runs["simple_cnn · shapes #1"] = Run(
        name="simple_cnn · shapes #1", config={}, checkpoint=str(run), status="done")

    alice_models = [key for _, key in alice.predict(model=model, api_name="/cam_models")["choices"]]
    bob_models = [key for _, key in bob.predict(model=None, api_name="/cam_models")["choices"]]
    assert alice_models == [SHAPES_KEY, "run:simple_cnn · shapes #1", "upload:alices.safetensors"]
    assert bob_models == [SHAPES_KEY]

    picture = handle_file(random_picture(tmp_path))
    _, summary, *_ = alice.predict(model="run:simple_cnn · shapes #1", image=picture, api_name="/cam")
    assert "simple_cnn" in summary
    for key in ("upload:alices.safetensors", "run:simple_cnn · shapes #1", f"upload:../{Path(mine).name}"):
        with pytest.raises(AppError, match="no model"):
            bob.predict(model=key, image=picture, api_name="/cam")
    # Bob's display controls redraw nothing of alice's.
    _, summary, probabilities, _ = bob.predict(threshold=0.3, api_name="/cam_redraw")
    assert summary == "Choose a model and a picture." and not probabilities


def test_a_model_trained_in_the_train_tab_appears_in_the_cam_tab(app_url, shipped):
    client = new_client(app_url)
    client.predict(model_name="simple_cnn", width=8, dataset="digits", epochs=1, batch_size=32, train_subset=64,
                   api_name="/train")  # fmt: skip
    keys = [key for _, key in client.predict(model=None, api_name="/cam_models")["choices"]]
    assert "run:simple_cnn · digits #1" in keys
    info, examples, threshold, image, gallery, summary, *_ = client.predict(
        model="run:simple_cnn · digits #1", api_name="/cam_select_model")
    assert "digits" in info and len(items(examples)) == 10
    assert "CAM (global average pooling)" in summary


def test_imagenet_models_appear_only_when_their_weights_are_on_disk(app_url, shipped, tmp_path, monkeypatch):
    from cnnzoo.models.resnet import imagenet_class_names, imagenet_weights_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # the server reads it per request
    client = new_client(app_url)
    keys = [key for _, key in client.predict(model=None, api_name="/cam_models")["choices"]]
    assert not any(key.startswith("imagenet:") for key in keys)
    assert imagenet_weights_path(18) in ui.cam_models.imagenet_note()  # the tab says where the file goes

    # torchvision's file layout (fc.*, not head.fc.*), random weights: no download in tests.
    state = create_model("resnet18_imagenet", num_classes=1000).state_dict()
    path = Path(imagenet_weights_path(18))
    path.parent.mkdir(parents=True)
    torch.save({k.removeprefix("head."): v for k, v in state.items()}, path)
    keys = [key for _, key in client.predict(model=None, api_name="/cam_models")["choices"]]
    assert "imagenet:18" in keys
    picture = random_picture(tmp_path, size=(300, 400))
    gallery, summary, probabilities, _ = client.predict(model="imagenet:18", image=handle_file(picture),
                                                        threshold=0.2, api_name="/cam")
    assert "resnet18_imagenet" in summary and "224×224" in items(gallery)[0]["caption"]
    assert all(c["label"] in imagenet_class_names() for c in probabilities["confidences"])


def test_localisation_matches_the_core(app_url, shipped, shapes_test, monkeypatch):
    monkeypatch.setattr(ui.cam_tab, "LOCALISATION_IMAGES", 200)  # the server runs in this process
    client = new_client(app_url)
    summary, plot, table = client.predict(model=SHAPES_KEY, threshold=0.45, api_name="/localisation")
    model, meta = load_checkpoint(shipped)
    thresholds = sorted({*CURVE_THRESHOLDS, 0.2, 0.45})
    expected = localisation_accuracy(model, shapes_test, thresholds, mean=meta["mean"], std=meta["std"], limit=200)
    assert f"**{expected.at(0.45):.1%}** of 200 shapes test images" in summary
    assert f"Best threshold **{expected.best_threshold:.2f}**" in summary and "the paper's 0.2" in summary
    assert plot["type"] == "matplotlib"
    rows = table["data"]
    assert [r[0] for r in rows] == pytest.approx(thresholds)
    assert [r[1] for r in rows] == pytest.approx([round(100 * a, 1) for a in expected.accuracy])


def test_localisation_needs_a_shapes_model(app_url, shipped, tmp_path):
    client = new_client(app_url)
    digits = save_tiny(tmp_path / "digits.safetensors", dataset="digits", input_size=(1, 8, 8), in_channels=1, width=4)
    model = value(client.predict(checkpoint=handle_file(digits), api_name="/cam_upload_checkpoint")[0])
    with pytest.raises(AppError, match="only the shapes dataset has"):
        client.predict(model=model, threshold=0.5, api_name="/localisation")


def test_cam_answers_while_a_class_trains(app_url, shipped, tmp_path):
    trainer = new_client(app_url)
    job = trainer.submit(model_name="simple_cnn", width=8, dataset="digits", epochs=200, batch_size=32, api_name="/train")
    try:
        while not job.outputs():  # it is training
            time.sleep(0.05)
        client = new_client(app_url)
        picture = handle_file(random_picture(tmp_path))
        started = time.monotonic()
        client.predict(model=SHAPES_KEY, image=picture, api_name="/cam")
        client.predict(threshold=0.3, api_name="/cam_redraw")
        assert time.monotonic() - started < 10, "CAM waited behind training"
    finally:
        trainer.predict(api_name="/stop")
        job.result(timeout=60)


def test_thirty_students_open_the_tab_and_drag_the_slider_at_once(app_url, shipped):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(30) as pool:
        # Not fetching the pictures: the server's work is what is measured, not this client's downloads.
        # httpx's 5 s default is the client's: thirty page configs (~430 kB each) served at once in
        # this process, beside thirty clients parsing them, take longer. A browser waits.
        clients = list(pool.map(lambda _: Client(app_url, analytics_enabled=False, verbose=False, download_files=False,
                                                 httpx_kwargs={"timeout": 60}), range(30)))

        def open_and_drag(client):
            opened = client.predict(model=SHAPES_KEY, api_name="/cam_select_model")
            dragged = [client.predict(threshold=t, api_name="/cam_redraw") for t in (0.3, 0.6)]
            return opened, dragged

        started = time.monotonic()
        results = list(pool.map(open_and_drag, clients))
        elapsed = time.monotonic() - started
    first_summary = results[0][0][5]
    for (info, examples, threshold, image, gallery, summary, probabilities, *_), dragged in results:
        assert summary == first_summary  # everyone's default view, computed in their own session
        assert [d[1] for d in dragged] == [d[1] for d in results[0][1]]
        assert "30%" in dragged[0][1] and "60%" in dragged[1][1]
    assert elapsed < 60, f"30 pages took {elapsed:.0f} s"


# ---------------------------------------------------------------------------------------------
# Bad inputs: each works or gets a clear message, and the server keeps serving
# ---------------------------------------------------------------------------------------------


def _jpeg_with_orientation(array: np.ndarray, orientation: int) -> bytes:
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def bad_pictures(folder: Path) -> dict[str, Path]:
    """Every odd picture of the issue's list, written with PIL and numpy."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, rng.integers(0, 256, (40, 40), dtype=np.uint8)])
    files = {
        "rgba": png(folder / "rgba.png", rgba),
        "grey": png(folder / "grey.png", rgb[..., 0]),
        "grey_alpha": png(folder / "grey_alpha.png", rgba[..., [0, 3]]),
        "sixteen_bit": folder / "sixteen.png",
        "palette": folder / "palette.png",
        "cmyk": folder / "cmyk.jpg",
        "one_pixel": png(folder / "one.png", rgb[:1, :1]),
    }
    Image.fromarray((rng.integers(0, 65536, (40, 40))).astype(np.uint16)).save(files["sixteen_bit"])
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(files["palette"], transparency=0)
    Image.fromarray(rgb).convert("CMYK").save(files["cmyk"], format="JPEG")
    return files


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd")
    files = bad_pictures(folder)
    good = png(folder / "good.png", np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    data = good.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "not_a_picture.png").write_text("this is not a picture\n")
    (folder / "empty.png").write_bytes(b"")
    return SimpleNamespace(folder=folder, pictures=files, good=good)


@pytest.mark.parametrize("kind", ["rgba", "grey", "grey_alpha", "sixteen_bit", "palette", "cmyk", "one_pixel"])
def test_odd_pictures_work(app_url, shipped, odd_files, kind):
    client = new_client(app_url)
    path = odd_files.pictures[kind]
    gallery, summary, probabilities, _ = client.predict(model=SHAPES_KEY, image=handle_file(path), api_name="/cam")
    _, result, _ = the_core(shipped, path)  # the app converts exactly as data.load_image does
    assert [c["confidence"] for c in probabilities["confidences"]] == pytest.approx(result.probs[0, :3].tolist(), abs=1e-6)
    assert "CAM" in summary and len(items(gallery)) == 4


def test_an_exif_rotated_photo_is_seen_upright(app_url, shipped, tmp_path):
    rng = np.random.default_rng(5)
    upright = rng.integers(0, 256, (48, 32, 3), dtype=np.uint8)  # portrait
    # Orientation 6: the viewer must turn the stored picture 90° clockwise to show it upright,
    # so the file stores the upright picture turned 90° counter-clockwise.
    stored = np.ascontiguousarray(np.rot90(upright, k=1))
    rotated = tmp_path / "photo.jpg"
    rotated.write_bytes(_jpeg_with_orientation(stored, 6))
    assert tuple(load_image(rotated, size=None).permute(1, 2, 0).shape) == upright.shape  # turned upright
    client = new_client(app_url)
    _, _, from_exif, _ = client.predict(model=SHAPES_KEY, image=handle_file(rotated), api_name="/cam")
    _, result, _ = the_core(shipped, rotated)
    assert [c["confidence"] for c in from_exif["confidences"]] == pytest.approx(result.probs[0, :3].tolist(), abs=1e-6)


@pytest.mark.parametrize("name, message", [
    ("truncated.png", "could not read the image"),
    ("not_a_picture.png", "not a picture"),
    ("empty.png", "not a picture|could not read"),
])  # fmt: skip
def test_unreadable_pictures_get_a_clear_message(app_url, shipped, odd_files, name, message):
    client = new_client(app_url)
    with pytest.raises(AppError, match=message):
        client.predict(model=SHAPES_KEY, image=handle_file(odd_files.folder / name), api_name="/cam")
    _, summary, _, _ = client.predict(model=SHAPES_KEY, image=handle_file(odd_files.good), api_name="/cam")
    assert "CAM" in summary  # the server keeps serving, this page too


def _peak_rss_reset() -> int | None:
    """Reset this process's peak resident memory (Linux) and return the current one, in bytes."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_bytes("VmRSS")
    except OSError:
        return None


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def test_a_huge_picture_is_scaled_down_in_bounded_memory(app_url, shipped, tmp_path):
    path = tmp_path / "huge.png"
    Image.new("RGB", (10_000, 10_000), (200, 40, 40)).save(path, compress_level=1)  # flat: compresses small
    assert path.stat().st_size < 20_000_000  # a small file (far under the app's max_file_size)
    client = new_client(app_url)
    before = _peak_rss_reset()  # the server runs in this process
    gallery, summary, _, _ = client.predict(model=SHAPES_KEY, image=handle_file(path), api_name="/cam")
    assert "32×32" in items(gallery)[0]["caption"]
    if before is not None:
        growth = _status_bytes("VmHWM") - before
        # one decoded copy is 300 MB (10,000² RGB); a bounded handful of copies at most
        assert growth < 1.5e9, f"peak memory grew by {growth / 1e6:.0f} MB"


def test_a_file_over_the_upload_limit_is_refused_and_the_server_keeps_serving(shipped, tmp_path, odd_files):
    # The app takes uploads up to CNNZOO_MAX_UPLOAD_MB (600: the zoo's largest checkpoint, see
    # tests/test_spaces.py); the CAM tab served with a 1 MB limit shows the refusal with a 2 MB file.
    from tests.conftest import free_port
    from ui import cam_tab
    from ui.common import LAUNCH_OPTIONS, QUEUE_MAX_SIZE

    demo = cam_tab.build_demo().queue(max_size=QUEUE_MAX_SIZE)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **{**LAUNCH_OPTIONS, "max_file_size": "1mb"})
    try:
        path = tmp_path / "big.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(2_000_000))
        client = new_client(url)
        with pytest.raises(Exception, match="(?i)too large|size|413"):
            client.predict(model=SHAPES_KEY, image=handle_file(path), api_name="/cam")
        _, summary, _, _ = client.predict(model=SHAPES_KEY, image=handle_file(odd_files.good), api_name="/cam")
        assert "CAM" in summary
    finally:
        demo.close()


def bad_checkpoints(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """(file, expected message) for every kind of wrong checkpoint."""
    from safetensors.torch import load_file, save_file

    from cnnzoo.checkpoints import read_checkpoint_meta

    meta = read_checkpoint_meta(good)
    state = load_file(good)
    files = {}
    (folder / "noise.safetensors").write_bytes(np.random.default_rng(0).bytes(5000))
    files["noise"] = (folder / "noise.safetensors", "not a cnnzoo checkpoint")
    png(folder / "picture.safetensors", np.zeros((8, 8, 3), np.uint8), format="PNG")
    files["a picture renamed"] = (folder / "picture.safetensors", "not a cnnzoo checkpoint")
    save_file(state, folder / "plain.safetensors")  # safetensors without cnnzoo's metadata
    files["no metadata"] = (folder / "plain.safetensors", "not a cnnzoo checkpoint")
    import json

    renamed = {"backbone." + k: v for k, v in state.items()}
    save_file(renamed, folder / "renamed.safetensors", metadata={"format": "cnnzoo-checkpoint", "cnnzoo": json.dumps(meta)})
    files["renamed weights"] = (folder / "renamed.safetensors", "do not fit simple_cnn")
    wider = {**meta, "knobs": {**meta["knobs"], "width": 8}}
    save_file(state, folder / "mismatched.safetensors", metadata={"format": "cnnzoo-checkpoint", "cnnzoo": json.dumps(wider)})
    files["other architecture"] = (folder / "mismatched.safetensors", "wrong shapes")
    data = good.read_bytes()
    (folder / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    files["truncated"] = (folder / "truncated.safetensors", "truncated")
    generator = create_model("dcgan_generator", width=4, image_size=32)
    save_checkpoint(folder / "generator.safetensors", generator, dict(model="dcgan_generator", knobs=dict(width=4, image_size=32)))
    files["a GAN generator"] = (folder / "generator.safetensors", "not a classifier")
    torch.save({"weight": torch.zeros(3)}, folder / "weights.pt")
    files["a torch .pt file"] = (folder / "weights.pt", r"one of these formats: \[.\.safetensors.\]")  # gradio refuses it
    return files


@pytest.fixture(scope="module")
def wrong_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wrong-checkpoints")
    good = save_tiny(folder / "good.safetensors", width=4)
    return bad_checkpoints(folder, good)


@pytest.mark.parametrize("kind", ["noise", "a picture renamed", "no metadata", "renamed weights", "other architecture",
                                  "truncated", "a GAN generator", "a torch .pt file"])
def test_wrong_checkpoints_get_a_clear_message(app_url, shipped, wrong_checkpoints, kind, tmp_path):
    path, message = wrong_checkpoints[kind]
    client = new_client(app_url)
    with pytest.raises(AppError, match=message):
        client.predict(checkpoint=handle_file(path), api_name="/cam_upload_checkpoint")
    keys = [key for _, key in client.predict(model=None, api_name="/cam_models")["choices"]]
    assert keys == [SHAPES_KEY]  # the bad file did not join the list
    _, summary, _, _ = client.predict(model=SHAPES_KEY, image=handle_file(random_picture(tmp_path)), api_name="/cam")
    assert "CAM" in summary


# ---------------------------------------------------------------------------------------------
# The shipped checkpoints themselves
# ---------------------------------------------------------------------------------------------

SHIPPED = cnnzoo.checkpoints.shipped("classifier")  # the GAN generators there are the GAN tab's


@pytest.mark.parametrize("checkpoint", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_checkpoint_works_in_the_cam_tab(checkpoint):
    cm = ui.cam_models.load_cam_model(checkpoint)
    ds = ui.cam_tab.test_set(cm)
    assert ds is not None, f"{checkpoint.name}: its test set ({cm.dataset}) should be built in"
    view = ui.cam_view.compute_view(cm, ds.images[0])
    assert view.method in ("CAM", "Grad-CAM") and len(view.class_names) == min(ui.cam_view.MAX_TOP_K, len(cm.class_names))
    expected = compute_cam(cm.model, normalize(ds.images[:1], cm.mean, cm.std), top_k=len(view.class_names))
    assert view.probs == pytest.approx(expected.probs[0].tolist(), abs=1e-6)


def test_importing_the_tab_writes_nothing_beside_its_source():
    # gradio writes a .pyi beside the source of any gr.Component subclass it sees defined
    assert not Path(ui.cam_tab.__file__).with_suffix(".pyi").exists()


def test_a_cam_is_computed_once_per_model_picture_and_truth_and_drawn_once_per_settings(monkeypatch):
    # A class clicks the same thumbnails (benchmarks/load.py): one forward pass, one drawing each.
    calls = {"forward": 0, "draw": 0}
    real_topk, real_draw = ui.cam_view.cam_topk, ui.cam_view.draw_view

    def counted(name, real):
        return lambda *args, **kwargs: calls.__setitem__(name, calls[name] + 1) or real(*args, **kwargs)

    monkeypatch.setattr(ui.cam_view, "cam_topk", counted("forward", real_topk))
    monkeypatch.setattr(ui.cam_view, "draw_view", counted("draw", real_draw))
    ui.cam_view._views.clear(), ui.cam_view._drawings.clear()
    model = "shipped:" + ui.cam_models.DEFAULT_CHECKPOINT
    settings = (3, "jet", 0.5, "largest", 0.5)
    page_a, page_b = SimpleNamespace(session_hash="cam-cache-a"), SimpleNamespace(session_hash="cam-cache-b")
    first = dict(zip(ui.cam_tab.PICK_OUTPUTS.names, ui.cam_tab.show_example(model, 4, settings, page_a)))
    again = dict(zip(ui.cam_tab.PICK_OUTPUTS.names, ui.cam_tab.show_example(model, 4, settings, page_b)))
    assert calls == {"forward": 1, "draw": 1}
    assert first["download"] != again["download"]  # each page its own file ...
    assert Path(first["download"]).read_bytes() == Path(again["download"]).read_bytes()  # ... of the same pixels
    assert first["summary"] == again["summary"] and "IoU" in first["summary"]  # the probe's truth kept: a shapes image
    ui.cam_tab.show_example(model, 4, (3, "jet", 0.5, "largest", 0.3), page_a)  # another threshold: drawn, not run
    assert calls == {"forward": 1, "draw": 2}
    ui.cam_tab.show_example(model, 5, settings, page_a)  # another picture
    assert calls == {"forward": 2, "draw": 3}
    # The same pixels uploaded (no probe: no truth) are another view: no box it does not have.
    upload = ui.cam_tab.cam(model, first["image"], *settings, probe=None, request=page_a)
    assert calls["forward"] == 3 and "IoU" not in upload[1]
