"""Bad input gets a message that names the field and its range (issue #14, item 3).

NumberField declares a number once (the control and the check); ui.common.validator turns a
handler's check into gradio's validator, which puts the message on the field it is about and
leaves every output as it was. Train and GAN training use it (Chromium checks the page below);
the Shapes tab does not, as its dropdowns would answer an API client with a bare HTTP 400
before any validator runs.
"""
from __future__ import annotations

import re

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError

from ui.common import FieldError, NumberField, validator

QUICK = dict(model_name="simple_cnn", width=16, dataset="digits", epochs=3, batch_size=32, train_subset=256)


# ---------------------------------------------------------------------------------------------
# NumberField and validator, as functions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, message", [
    (None, "learning rate is empty: type a number"),
    ("", "learning rate is empty: type a number"),
    ("fast", "learning rate must be a number, got 'fast'"),
    (0, "learning rate must be at least 1e-06, got 0"),
    (11, "learning rate must be at most 10, got 11"),
])  # fmt: skip
def test_a_number_field_names_itself_and_its_range(value, message):
    with pytest.raises(FieldError, match=re.escape(message)) as caught:
        NumberField("learning rate", float, 1e-6, 10).read(value)
    assert caught.value.field == "learning rate"


def test_a_number_field_reads_what_it_accepts():
    batch = NumberField("batch size", int, 1, 4096)
    assert batch.read(64) == 64 and isinstance(batch.read(64.0), int) and batch.read("128") == 128
    with pytest.raises(FieldError, match="batch size must be a whole number, got 2.5"):
        batch.read(2.5)  # not silently rounded to 2
    assert NumberField("seed", int).read(-3) == -3  # no range: any whole number


def test_the_control_leaves_the_range_check_to_read():
    # gradio's own check would fail the event without naming the field
    with gr.Blocks():
        box = NumberField("epochs", float, 0.1, 500).control(10)
    assert (box.minimum, box.maximum, box.precision) == (0.1, 500, None)
    assert box.preprocess(900) == 900 and box.preprocess(None) is None


def messages(results) -> list[tuple[bool, str]]:
    return [(r["is_valid"], r["message"]) for r in results]


def test_the_validator_puts_the_message_on_the_field_it_is_about():
    with gr.Blocks():
        inputs = {"model_name": gr.Dropdown(["a"], label="network"), "lr": gr.Number(label="learning rate"),
                  "epochs": gr.Number(label="epochs")}

    def check(model_name, lr, epochs):
        NumberField("learning rate", float, 1e-6, 10).read(lr)
        if epochs > 100:
            raise FieldError("epochs", "too many epochs")  # by its name in the form
        if model_name != "a":
            raise ValueError("unknown network")  # not about one field: the first input

    validate = validator(check, inputs)
    assert messages(validate(model_name="a", lr=0.1, epochs=1)) == [(True, "")] * 3
    assert messages(validate(model_name="a", lr=0, epochs=1)) == [
        (True, ""), (False, "learning rate must be at least 1e-06, got 0"), (True, "")]
    assert messages(validate(model_name="a", lr=0.1, epochs=900)) == [(True, ""), (True, ""), (False, "too many epochs")]
    assert messages(validate(model_name="b", lr=0.1, epochs=1)) == [(False, "unknown network"), (True, ""), (True, "")]
    # positional inputs (a list of components) are matched by label
    assert messages(validator(check, list(inputs.values()))("a", None, 1))[1] == (False, "learning rate is empty: type a number")


def test_the_train_form_check_names_each_field(app_url):
    from ui.train_tab import FORM, check_form, form_controls

    with gr.Blocks():
        controls = form_controls()
    form = {name: controls[name].value for name in FORM if name in controls} | {"smoothing": 0.6}
    validate = validator(check_form, {name: controls.get(name) for name in form})
    assert all(ok for ok, _ in messages(validate(**form)))
    for name, bad, message in [("lr", None, "learning rate is empty"), ("epochs", 900, "epochs must be at most 500"),
                               ("batch_size", 0, "batch size must be at least 1"), ("momentum", 1.5, "momentum must be at most")]:
        found = dict(zip(form, messages(validate(**{**form, name: bad}))))
        assert [key for key, (ok, _) in found.items() if not ok] == [name]
        assert found[name][1].startswith(message)


# ---------------------------------------------------------------------------------------------
# Through a real client: the API gets the same messages
# ---------------------------------------------------------------------------------------------


def test_api_errors_name_the_field_and_its_range(app_url):
    client = Client(app_url, analytics_enabled=False, verbose=False)
    # Train and GAN training: gradio_client runs the events' validators (a ValidationError)
    with pytest.raises(ValidationError, match=re.escape("epochs: epochs must be at most 500, got 900")):
        client.predict(**{**QUICK, "epochs": 900}, api_name="/train")
    with pytest.raises(ValidationError, match=re.escape("batch size must be a whole number, got 2.5")):
        client.predict(**{**QUICK, "batch_size": 2.5}, api_name="/train")
    with pytest.raises(ValidationError, match=re.escape("width must be at least 1, got 0")):
        client.predict(model="dcgan", width=0, api_name="/gan_train")
    with pytest.raises(AppError, match=re.escape("height must be at least 1, got 0")):
        client.predict(model_name="resnet20", input_height=0, api_name="/trace")
