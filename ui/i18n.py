"""The page in Korean as well as English (issue #11 part 6), chosen by the browser's language.

Gradio translates in the browser: a label, note, choice, tab name, button or Markdown text that
is an I18nData (gr.I18n's key) is shown in the browser's language where the dictionary has it,
and as its key elsewhere. Here the key is the English text itself, so English needs no
dictionary and a text with no Korean entry stays English. translate(blocks) turns every static
text of a built page that has a Korean entry into such a key; the tabs are written in plain
English and know nothing of it.

KO is keyed by the English text with its whitespace collapsed (a Markdown text's line breaks
are not part of its entry; the browser's own key is the text as written). No text may hold "{" or "}": the browser reads a translation as an
ICU message, where braces are placeholders (a text with one is shown as its raw key).
Texts computed on the server (status lines, field messages, Stop's answers) go through say():
their English template and its Korean are in SAID, and the request's Accept-Language (the
browser's language, as the page's own choice) picks one. The core's messages a student meets
most (cnnzoo's ValueErrors) are matched by a pattern in ERRORS (said_error); the rest stay
English. The dictionaries themselves are in ui/korean.py.
"""
from __future__ import annotations

import gradio as gr
from gradio.context import LocalContext
from gradio.i18n import I18nData

from ui.korean import ERRORS, KO, SAID  # noqa: F401  (the dictionaries; tests read them here)

# The browser's dictionary: the page's texts as they are written (a Markdown text's line breaks
# matter where it is shown as its own key, in English), filled by translate() from KO.
I18N = gr.I18n(ko={})


def key(text: str) -> str:
    """A text's entry in KO: its whitespace collapsed."""
    return " ".join(text.split())


def translated(text):
    """`text` as a key the browser translates, where KO has it; anything else as it is."""
    if isinstance(text, str) and key(text) in KO:
        I18N.translations["ko"][text] = KO[key(text)]
        return I18N(text)
    return text


def blocks_of(block):
    yield block
    for child in getattr(block, "children", None) or []:
        yield from blocks_of(child)


def translate(blocks: gr.Blocks) -> gr.Blocks:
    """Every static text of a built page with a Korean entry, as a key the browser translates: the
    labels and notes of components, tabs and accordions, choices, buttons and Markdown texts."""
    for block in blocks_of(blocks):
        for attribute in ("label", "info"):
            if hasattr(block, attribute):
                setattr(block, attribute, translated(getattr(block, attribute)))
        if isinstance(block, (gr.Markdown, gr.Button)):
            block.value = translated(block.value)
        if isinstance(block, (gr.Dropdown, gr.Radio, gr.CheckboxGroup)) and block.choices:
            block.choices = [(translated(label), value) for label, value in block.choices]
    if not hasattr(blocks, "english_api_info"):
        blocks.english_api_info = blocks.get_api_info
        blocks.get_api_info = lambda *args, **kwargs: english_labels(blocks.english_api_info(*args, **kwargs))
    return blocks


def english_labels(api_info: dict) -> dict:
    """The API's description (gradio_client's view_api, the page's "Use via API") with each
    parameter's and return value's label in English: gradio lists a translated label as the key's
    metadata, {"key": …, "_type": "translation_metadata"}."""
    for endpoints in (api_info.get("named_endpoints", {}), api_info.get("unnamed_endpoints", {})):
        for endpoint in endpoints.values():
            for value in endpoint.get("parameters", []) + endpoint.get("returns", []):
                if isinstance(value.get("label"), I18nData):
                    value["label"] = value["label"].key
    return api_info



# ---------------------------------------------------------------------------------------------
# Texts the server computes: say("step {step} / {total}", step=3, total=10), said_error(message)
# ---------------------------------------------------------------------------------------------

def korean() -> bool:
    """Whether the request being answered prefers Korean: its Accept-Language's first language
    (the browser's, e.g. "ko-KR,ko;q=0.9,en;q=0.8"). No request (a script, a test): English."""
    request = LocalContext.request.get(None)
    headers = getattr(request, "headers", None) or {}
    first = (headers.get("accept-language") or "").split(",")[0]
    return first.strip().lower().split("-")[0] == "ko"




def said_error(message: str) -> str:
    """A message of the core (a ValueError's text) in the request's language (ERRORS)."""
    if korean():
        for pattern, text in ERRORS:
            found = pattern.fullmatch(message)
            if found:
                return text.format(**found.groupdict())
    return message


def say(template: str, **values) -> str:
    """A text computed on the server in the request's language: `template` (an entry of SAID, or
    any static text of KO, such as a field's label) with `values` filled in."""
    text = (SAID.get(template) or KO.get(key(template)) or template) if korean() else template
    return text.format(**values) if values else text
