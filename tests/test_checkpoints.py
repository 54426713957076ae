"""Checkpoints: round trips, atomic writes, and clear errors for files that are not ours."""
import json
import os
import struct

import pytest
import torch
import torch.nn as nn

import cnnzoo
import cnnzoo.files as files
from cnnzoo import create_model
from cnnzoo.checkpoints import (
    load_checkpoint,
    load_training_state,
    read_checkpoint_meta,
    save_checkpoint,
    save_training_state,
)

KNOBS = {"num_classes": 10, "in_channels": 3, "width": 4}
META = {"model": "simple_cnn", "knobs": KNOBS, "class_names": [f"c{i}" for i in range(10)],
        "mean": (0.2, 0.3, 0.4), "std": (0.1, 0.1, 0.1), "input_size": (3, 32, 32),
        "dataset": "shapes", "metrics": {"test_acc": 0.93}, "epoch": 3}


def tiny_model(seed=0, **knobs):
    torch.manual_seed(seed)
    model = create_model("simple_cnn", **{**KNOBS, **knobs})
    with torch.no_grad():  # non-trivial BN statistics, so buffers are checked too
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    return model.eval()


def same_outputs(a, b):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=1e-6)


def test_round_trip_rebuilds_model_from_metadata(tmp_path):
    model = tiny_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, META)
    loaded, meta = load_checkpoint(path)
    assert type(loaded) is type(model) and not loaded.training
    assert same_outputs(model, loaded)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    assert meta["model"] == "simple_cnn" and meta["knobs"] == KNOBS
    assert meta["mean"] == [0.2, 0.3, 0.4] and meta["input_size"] == [3, 32, 32]
    assert meta["metrics"] == {"test_acc": 0.93} and meta["epoch"] == 3
    assert meta["code_version"].startswith(cnnzoo.__version__) and meta["format_version"] == 1
    assert meta["date"].endswith("+00:00")
    assert read_checkpoint_meta(path) == meta


def test_metadata_is_one_json_string_in_the_safetensors_header(tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model(), META)
    with safe_open(str(path), "pt") as f:
        header = f.metadata()
    assert json.loads(header["cnnzoo"])["model"] == "simple_cnn"


def test_channels_last_weights_save_and_load(tmp_path):
    model = tiny_model().to(memory_format=torch.channels_last)  # conv weights are not contiguous
    assert not model.stage1.conv1.weight.is_contiguous()
    loaded, meta = load_checkpoint(save_checkpoint(tmp_path / "cl.safetensors", model, META))
    assert same_outputs(model, loaded) and meta["tied"] == {}


class TiedNet(nn.Module):
    """An autoencoder whose decoder reuses the encoder's weight (weight tying)."""

    def __init__(self, size=4):
        super().__init__()
        self.encoder = nn.Linear(size, size)
        self.decoder = nn.Linear(size, size)
        self.decoder.weight = self.encoder.weight


def test_tied_weights_are_saved_once_and_tied_again_on_load(tmp_path, monkeypatch):
    from cnnzoo import registry

    def tied_net(size=4):
        return TiedNet(size)

    entry = registry.ModelEntry("tied_net", tied_net, "test", "classifier", "")
    registry._ensure_loaded()
    monkeypatch.setitem(registry._REGISTRY, "tied_net", entry)
    torch.manual_seed(0)
    model = TiedNet(4)
    path = save_checkpoint(tmp_path / "tied.safetensors", model, {"model": "tied_net", "knobs": {"size": 4}})
    meta = read_checkpoint_meta(path)
    assert meta["tied"] == {"decoder.weight": "encoder.weight"}
    loaded, _ = load_checkpoint(path)
    assert loaded.decoder.weight is loaded.encoder.weight
    assert torch.equal(loaded.encoder.weight, model.encoder.weight)
    assert torch.equal(loaded.decoder.bias, model.decoder.bias)


def test_a_crash_mid_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model(seed=0), {**META, "epoch": 1})
    good = path.read_bytes()

    def half_then_crash(file, data):
        file.write(bytes(data)[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(files, "_write_all", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, tiny_model(seed=1), {**META, "epoch": 2})
    assert path.read_bytes() == good
    assert read_checkpoint_meta(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]

    monkeypatch.undo()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error")))
    with pytest.raises(OSError):
        save_training_state(tmp_path / "state.pt", {"step": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_refuses_weights_that_do_not_match_the_declared_model(tmp_path):
    expected = r"width=8\): wrong shapes head\.fc\.weight \[10, 16\] \(expected \[10, 32\]\)"
    with pytest.raises(ValueError, match=expected):
        save_checkpoint(tmp_path / "m.safetensors", tiny_model(), {**META, "knobs": {**KNOBS, "width": 8}})
    with pytest.raises(ValueError, match='"model"'):
        save_checkpoint(tmp_path / "m.safetensors", tiny_model(), {"knobs": KNOBS})
    with pytest.raises(ValueError, match=r"meta\['metrics'\]\['f'\] is a function"):
        save_checkpoint(tmp_path / "m.safetensors", tiny_model(), {**META, "metrics": {"f": lambda: 0}})
    assert not list(tmp_path.iterdir())


def write_safetensors(path, tensors, meta: dict | None):
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=meta)
    return path


def test_weights_that_do_not_fit_the_architecture_name_keys_and_shapes(tmp_path):
    model = tiny_model()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    meta = json.dumps({"model": "simple_cnn", "knobs": KNOBS})

    wrong = dict(state, **{"head.fc.weight": torch.zeros(7, 16)})
    path = write_safetensors(tmp_path / "shape.safetensors", wrong, {"cnnzoo": meta})
    with pytest.raises(ValueError, match=r"head\.fc\.weight \[7, 16\] \(expected \[10, 16\]\)"):
        load_checkpoint(path)

    fewer = {k: v for k, v in state.items() if not k.startswith("head.")}
    path = write_safetensors(tmp_path / "missing.safetensors", fewer, {"cnnzoo": meta})
    with pytest.raises(ValueError, match=r"missing head\.fc\.bias, head\.fc\.weight"):
        load_checkpoint(path)

    more = dict(state, extra=torch.zeros(3))
    path = write_safetensors(tmp_path / "extra.safetensors", more, {"cnnzoo": meta})
    with pytest.raises(ValueError, match="unexpected extra"):
        load_checkpoint(path)


def test_unknown_model_name_is_a_clear_error(tmp_path):
    # Valid weights, but the metadata names a model this cnnzoo does not have.
    state = {k: v.contiguous() for k, v in tiny_model().state_dict().items()}
    bad = write_safetensors(tmp_path / "u.safetensors", state,
                            {"cnnzoo": json.dumps({"model": "resnet9000", "knobs": {}})})
    with pytest.raises(ValueError, match="cannot be built: Unknown model 'resnet9000'"):
        load_checkpoint(bad)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"abc", "only 3 bytes"),
    (bytes(range(256)) * 40, "safetensors header"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "safetensors header"),
    (struct.pack("<Q", 10) + b"not json!!" + b"\x00" * 10, "not valid JSON"),
])
def test_files_that_are_not_checkpoints(tmp_path, content, message):
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="not a cnnzoo checkpoint"):
        read_checkpoint_meta(path)


def test_a_real_png_and_a_missing_file(tmp_path):
    import imageio.v3 as iio

    png = tmp_path / "picture.png"
    iio.imwrite(png, torch.zeros(8, 8, 3, dtype=torch.uint8).numpy())
    with pytest.raises(ValueError, match="not a cnnzoo checkpoint"):
        load_checkpoint(png)
    with pytest.raises(ValueError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nowhere.safetensors")


def test_safetensors_without_our_metadata(tmp_path):
    state = {k: v.contiguous() for k, v in tiny_model().state_dict().items()}
    for meta in (None, {"format": "pt"}):
        path = write_safetensors(tmp_path / "plain.safetensors", state, meta)
        with pytest.raises(ValueError, match='safetensors file but not a cnnzoo checkpoint.*"cnnzoo" metadata'):
            load_checkpoint(path)
    path = write_safetensors(tmp_path / "nomodel.safetensors", state, {"cnnzoo": json.dumps({"epoch": 3})})
    with pytest.raises(ValueError, match='lacks "model" and "knobs"'):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model(), META)
    data = path.read_bytes()
    for keep in (len(data) - 1, len(data) // 2):
        path.write_bytes(data[:keep])
        with pytest.raises(ValueError, match="truncated"):
            load_checkpoint(path)
    path.write_bytes(data[:20])  # cut inside the header
    with pytest.raises(ValueError, match="not a cnnzoo checkpoint"):
        load_checkpoint(path)


def test_training_state_round_trip_with_optimizer_scheduler_and_rng(tmp_path):
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2, 4], gamma=0.2)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    sched.step()
    state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 1,
             "rng_cpu": torch.get_rng_state(), "curves": {"loss": [2.3, 1.9], "acc": (0.1, 0.4)}, "best": None}
    path = save_training_state(tmp_path / "state.pt", state)
    loaded = load_training_state(path)
    assert torch.equal(loaded["rng_cpu"], state["rng_cpu"])
    assert loaded["curves"] == {"loss": [2.3, 1.9], "acc": (0.1, 0.4)} and loaded["best"] is None
    opt2 = torch.optim.SGD(tiny_model().parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(loaded["optimizer"])
    sched2 = torch.optim.lr_scheduler.MultiStepLR(opt2, [2, 4], gamma=0.2)
    sched2.load_state_dict(loaded["scheduler"])
    assert sched2.last_epoch == 1
    momentum = opt.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(opt2.state_dict()["state"][0]["momentum_buffer"], momentum)


def test_training_state_refuses_objects_on_save_and_pickles_on_load(tmp_path):
    import numpy as np

    with pytest.raises(ValueError, match=r"state\['rng'\] is a ndarray.*torch.from_numpy"):
        save_training_state(tmp_path / "s.pt", {"rng": np.zeros(3)})
    with pytest.raises(ValueError, match=r"state\['model'\] is a Linear"):
        save_training_state(tmp_path / "s.pt", {"model": nn.Linear(2, 2)})

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, evil)
    with pytest.raises(ValueError, match="not a readable cnnzoo training state"):
        load_training_state(evil)
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable"):
        load_training_state(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="no training state"):
        load_training_state(tmp_path / "none.pt")


def test_saved_files_are_readable_like_any_other(tmp_path):
    import stat

    from cnnzoo import create_model

    path = save_checkpoint(tmp_path / "m.safetensors", create_model("simple_cnn", width=4), {"model": "simple_cnn", "knobs": {"width": 4}})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
