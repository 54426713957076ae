"""The Inside tab through a real client: layers of the shipped models, their maps and filters,
a channel's top test images (checked against brute force), and what bad input gets."""
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image

from cnnzoo.checkpoints import CHECKPOINT_DIR, load_checkpoint
from cnnzoo.compute import normalize
from cnnzoo.data import load_dataset
from cnnzoo.inside import capture

SHAPES = "shipped:simple-shapes-cam.safetensors"
DIGITS = "shipped:resnet20-digits.safetensors"


def value(update):
    return update["value"] if isinstance(update, dict) else update


def choices(update) -> list[str]:
    return [key for _, key in update["choices"]]


@pytest.fixture(scope="module")
def shapes_model():
    model, meta = load_checkpoint(CHECKPOINT_DIR / "simple-shapes-cam.safetensors", kind="classifier")
    return model.eval(), meta


def test_the_model_list_has_the_shipped_models(client):
    listed = choices(client.predict(None, api_name="/inside_models"))
    assert SHAPES in listed and DIGITS in listed


def test_choosing_a_model_opens_its_layers_a_test_image_and_its_first_convolution(client):
    info, layer, table, image, summary, maps, filters, note, path = client.predict(
        SHAPES, "layer", api_name="/inside_select_model")
    assert "simple_cnn" in info and "shapes" in info
    names = choices(layer)
    assert value(layer) == "stage1.conv1" and names[:3] == ["stage1.conv1", "stage1.bn1", "stage1.relu1"]
    rows = table["data"]
    assert [row[1] for row in rows[:2]] == ["stage1.conv1", "stage1.bn1"] and rows[0][3] == "32 × 32 × 32"
    assert Path(image).name == "shapes-32-test-00000.png"
    assert "**stage1.conv1** (Conv2d)" in summary and "32 channels of 32×32" in summary
    assert len(maps) == 32 and "…" in maps[0]["caption"]
    assert Image.open(filters).mode == "RGB" and "3×3×3" in note  # a first layer's filters are in colour
    assert path["type"] == "matplotlib"


def test_activations_are_the_layer_channels_most_active_first(client, shapes_model):
    model, meta = shapes_model
    ds = load_dataset("shapes", "test")
    image = client.predict(SHAPES, "layer", api_name="/inside_select_model")[3]
    summary, maps, filters, note, _ = client.predict(SHAPES, handle_file(image), "stage2.conv1", "channel",
                                                     api_name="/activations")
    with torch.no_grad(), capture(model, ["stage2.conv1"]) as caught:
        model(normalize(ds.images[:1], meta["mean"], meta["std"]))
    means = caught["stage2.conv1"][0].flatten(1).mean(1)
    expected = means.argsort(descending=True).tolist()
    shown = [int(tile["caption"].split(":")[0]) for tile in maps]
    assert shown == expected[:len(shown)] and len(shown) == 64
    tile = np.asarray(Image.open(maps[0]["image"]))
    assert tile.shape[1] >= 64 and tile.shape[1] % 16 == 0  # 16×16 maps enlarged by whole pixels
    assert tile.shape[0] > tile.shape[1]  # and the caption written under the map
    assert "a row per output channel" in note and Image.open(filters).size[0] > 16


def test_a_vector_layer_and_a_layer_without_filters(client):
    image = client.predict(SHAPES, "layer", api_name="/inside_select_model")[3]
    summary, maps, filters, note, _ = client.predict(SHAPES, handle_file(image), "head.fc", "layer",
                                                     api_name="/activations")
    assert "10 channels of 1×1" in summary and len(maps) == 10 and filters is None and "no filters" in note


def test_top_images_are_the_true_arg_max_over_the_test_set(client, shapes_model):
    model, meta = shapes_model
    ds = load_dataset("shapes", "test")
    summary, tiles = client.predict(SHAPES, "stage3.conv2", 5, api_name="/top_images")
    with torch.no_grad(), capture(model, ["stage3.conv2"], reduce=lambda out: out[:, 5].amax((1, 2))) as caught:
        best = torch.cat([(model(normalize(part, meta["mean"], meta["std"])), caught.pop("stage3.conv2"))[1]
                          for part in ds.images.split(500)])
    expected = best.argsort(descending=True)[:9].tolist()
    found = [int(tile["caption"].split(" · ")[0]) for tile in tiles]
    assert found == expected
    assert "Channel 5 of stage3.conv2" in summary and "2,000 test images of shapes" in summary
    again, _ = client.predict(SHAPES, "stage3.conv2", 6, api_name="/top_images")
    assert "From the cache" in again  # one pass per (model, layer), whatever the channel


@pytest.mark.parametrize("layer, channel, message", [
    ("stage9", 0, "no layer named"),
    ("stage3.conv2", 128, "from 0 to 127"),
    ("stage3.conv2", -1, "less than minimum value 0"),  # gradio's own check of the Number
])  # fmt: skip
def test_top_images_of_a_layer_or_channel_that_does_not_exist_say_what_exists(client, layer, channel, message):
    with pytest.raises(Exception, match=message):
        client.predict(SHAPES, layer, channel, api_name="/top_images")


def test_bad_pictures_layers_and_models_get_clear_errors(client, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(Exception, match="not a picture this app can read"):
        client.predict(SHAPES, handle_file(str(text)), "stage1.conv1", "layer", api_name="/activations")
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((50, 70), 128, np.uint8)).save(grey)  # grey, not square: converted and cropped
    summary = client.predict(SHAPES, handle_file(str(grey)), "stage1.conv1", "layer", api_name="/activations")[0]
    assert "32 channels of 32×32" in summary
    with pytest.raises(Exception, match="no layer named .*nope"):
        client.predict(SHAPES, handle_file(str(grey)), "nope", "layer", api_name="/activations")
    with pytest.raises(Exception, match="Choose a picture"):
        client.predict(SHAPES, None, "stage1.conv1", "layer", api_name="/activations")
    with pytest.raises(Exception, match="no model .*upload:x.safetensors.* here"):
        client.predict("upload:x.safetensors", "layer", api_name="/inside_select_model")


def test_a_grey_digits_resnet_shows_its_stages_and_grey_filters(client):
    info, layer, table, image, summary, maps, filters, note, path = client.predict(
        DIGITS, "layer", api_name="/inside_select_model")
    assert "resnet20" in info and value(layer) == "conv1"
    assert "a row per output channel" in note  # one input channel: kernels on the diverging scale
    random_image = client.predict(DIGITS, "layer2.0.conv1", "layer", api_name="/inside_random_image")
    assert random_image[0] and "**layer2.0.conv1**" in random_image[1]


def test_an_uploaded_checkpoint_opens_and_a_generator_is_refused(client, tmp_path):
    import shutil

    mine = tmp_path / "my-digits-net.safetensors"
    shutil.copy(CHECKPOINT_DIR / "resnet20-digits.safetensors", mine)
    model, info, layer, *_ = client.predict(handle_file(str(mine)), "layer", api_name="/inside_upload_checkpoint")
    assert value(model) == "upload:my-digits-net.safetensors" and "resnet20" in info and value(layer) == "conv1"
    with pytest.raises(Exception, match="generator"):
        client.predict(handle_file(str(CHECKPOINT_DIR / "dcgan-digits.safetensors")), "layer",
                       api_name="/inside_upload_checkpoint")
