"""The page in Korean (issue #11 part 6): every Korean entry is a text the page shows, and a
browser whose language is Korean reads the page in Korean and can use it."""
from __future__ import annotations

from gradio.i18n import I18nData

from ui.i18n import KO, SAID, blocks_of, key

TIMEOUT_MS = 60_000


def texts_asked_for(blocks) -> set[str]:
    """The keys of every text of a built page that the browser is asked to translate."""
    found = set()
    for block in blocks_of(blocks):
        values = [getattr(block, name, None) for name in ("label", "info", "value")]
        values += [label for label, _ in getattr(block, "choices", None) or []]
        found |= {key(value.key) for value in values if isinstance(value, I18nData)}
    return found


def test_every_korean_entry_is_a_text_of_the_page():
    import app

    asked = texts_asked_for(app.demo)
    unused = sorted(set(KO) - asked)
    assert not unused, f"entries of ui.i18n.KO that no text of the page has (a typo, or the text changed): {unused}"
    assert all(k == key(k) for k in KO)  # keys are written as the lookup normalises them


def test_no_entry_holds_a_brace():
    # The browser reads a translation as an ICU message: "{x}" is a placeholder, and the text is
    # shown as its raw key instead.
    assert not [k for k, v in KO.items() if set("{}") & set(k + v)]


def test_the_api_describes_its_values_in_english(client):
    # gradio_client users and the page's "Use via API" read the labels the page is built with,
    # not the translation's metadata (gradio lists a translated label as {"key": …, "_type": …}).
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["label"] for p in api["/gan_sample"]["parameters"]] == ["generator", "seed", "samples a side"]
    assert api["/gan_sample"]["returns"][0]["label"] == "samples: click one for the start of a walk, another for its end"
    labels = [v["label"] for e in api.values() for v in e["parameters"] + e["returns"] if "label" in v]
    assert all(isinstance(label, str) for label in labels)


def test_a_korean_browser_reads_the_page_in_korean_and_uses_it(open_page, app_url, screenshot_dir):
    page = open_page(app_url, width=1024, height=768, locale="ko-KR")
    for tab in ("구조", "학습", "속 보기", "실험", "보고서"):
        page.get_by_role("tab", name=tab, exact=True).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("고전 CNN을 뜯어보기").wait_for(timeout=TIMEOUT_MS)
    # The GAN tab in Korean, and its work: a walk between two samples of the shipped generator.
    page.get_by_role("tab", name="GAN", exact=True).click()
    page.get_by_role("tab", name="생성과 걷기", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.locator("#gan-grid img").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="보간하기", exact=True).click()
    page.locator("#gan-walk img").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_text("한 변의 샘플 수").first.is_visible()  # a slider's label
    page.get_by_role("tab", name="GAN 학습", exact=True).click()
    page.get_by_role("button", name="학습", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("생성자 갱신 횟수").wait_for(timeout=TIMEOUT_MS)  # a field's note
    page.screenshot(path=str(screenshot_dir / "gan-train-ko-1024.png"), full_page=True)
    page.get_by_role("button", name="정지", exact=True).first.click()  # the server answers in Korean too
    page.get_by_text("이 세션에서 학습 중인 것이 없습니다.").first.wait_for(timeout=TIMEOUT_MS)
    assert page.console_errors == [], page.console_errors
    assert "i18n" not in page.inner_text("body")  # no text shown as its raw key


def test_an_english_browser_reads_the_texts_as_written(open_page, app_url):
    # An English page shows each text as its own key: a Markdown text keeps its line breaks (its
    # heading is a heading, not the first line of a paragraph run into it).
    page = open_page(app_url, width=1024, height=768)
    heading = page.locator("h1").first
    heading.wait_for(timeout=TIMEOUT_MS)
    assert heading.inner_text() == "cnnzoo: the classic CNNs, taken apart"
    assert page.get_by_role("tab", name="Shapes", exact=True).is_visible()


def test_every_server_text_has_the_same_placeholders_in_korean():
    import string

    def names(text):
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)

    assert {k: names(k) for k in SAID} == {k: names(v) for k, v in SAID.items()}


def test_a_korean_client_gets_the_servers_status_lines_and_messages_in_korean(app_url):
    from gradio_client import Client
    from gradio_client.exceptions import ValidationError

    korean = Client(app_url, analytics_enabled=False, verbose=False, headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert korean.predict(api_name="/stop") == "이 세션에서 학습 중인 것이 없습니다."
    quick = dict(model_name="simple_cnn", width=16, dataset="digits", epochs=1, batch_size=32, train_subset=128)
    job = korean.submit(**quick, api_name="/train")
    statuses = [update[2] for update in job if update[2]]
    assert "완료" in statuses[-1] and "테스트 정확도" in statuses[-1], statuses[-1]
    assert any("데이터를 불러오는 중" in status for status in statuses), statuses
    try:
        korean.predict(**{**quick, "epochs": 0}, api_name="/train")
        raise AssertionError("epochs 0 was accepted")
    except ValidationError as error:
        assert "에폭은(는) 0.1 이상이어야 합니다 (입력: 0)" in str(error)
    english = Client(app_url, analytics_enabled=False, verbose=False)
    assert english.predict(api_name="/stop") == "Nothing is training in this session."


def test_the_experiments_status_lines_and_stops_speak_korean_to_a_korean_client(launch):
    from gradio_client import Client

    import ui.experiments_tab

    url = launch(ui.experiments_tab.build_demo())
    korean = Client(url, analytics_enabled=False, verbose=False, headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert korean.predict(api_name="/landscape_stop") == "이 페이지에서 계산 중인 것이 없습니다."
    assert korean.predict(api_name="/race_stop") == "이 페이지에서 경주 중인 것이 없습니다."
    job = korean.submit(ui.experiments_tab.DEFAULT_PLAIN, ui.experiments_tab.DEFAULT_RESIDUAL, 3, 1.0, 1, 0, "ignore",
                        api_name="/landscape")  # computed in the job's thread: the request's language goes with it
    statuses = [update[0] for update in job if update[0]]
    assert statuses[-1].startswith("**완료**: 2 × 3×3개 점을"), statuses[-1]
    english = Client(url, analytics_enabled=False, verbose=False)
    assert english.predict(api_name="/landscape_stop") == "Nothing is computing on this page."


def test_the_cores_messages_a_student_meets_most_are_said_in_korean_with_their_parts(tmp_path):
    # Real messages of cnnzoo, translated at the page's edge (ui.i18n.said_error); a file's name, a
    # number, a reason stay as the core said them.
    from types import SimpleNamespace

    import pytest
    from gradio.context import LocalContext

    from cnnzoo import create_model
    from cnnzoo.checkpoints import CHECKPOINT_DIR, check_kind, read_checkpoint_meta
    from cnnzoo.data import load_image
    from cnnzoo.data.mnist_cifar import _unavailable
    from ui.i18n import ERRORS, said_error

    def message(action) -> str:
        with pytest.raises(ValueError) as raised:
            action()
        return str(raised.value)

    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    generator = read_checkpoint_meta(CHECKPOINT_DIR / "dcgan-digits.safetensors")
    messages = {
        "이미지를 읽을 수 없습니다": message(lambda: load_image(b"not a picture")),
        "empty.safetensors은(는) cnnzoo 체크포인트": message(lambda: read_checkpoint_meta(empty)),
        "에는 classifier가 아니라 generator": message(lambda: check_kind(generator, "classifier", "dcgan-digits")),
        "깊이는 6n + 2(n ≥ 1)이어야 합니다": message(lambda: create_model("resnet_cifar", depth=21)),
        "cifar10을(를) 쓸 수 없습니다": str(_unavailable("cifar10", tmp_path, "the machine is offline.")),
    }
    token = LocalContext.request.set(SimpleNamespace(headers={"accept-language": "ko-KR,ko;q=0.9"}))
    try:
        for korean, english in messages.items():
            assert korean in said_error(english), english
        assert "입력: 21" in said_error(messages["깊이는 6n + 2(n ≥ 1)이어야 합니다"])
        assert said_error("a message no pattern knows") == "a message no pattern knows"
    finally:
        LocalContext.request.reset(token)
    assert said_error(messages["이미지를 읽을 수 없습니다"]) == messages["이미지를 읽을 수 없습니다"]  # English: as said
    assert len(ERRORS) >= len(messages)


def test_every_korean_error_uses_only_the_parts_its_pattern_names():
    import string

    from ui.i18n import ERRORS

    for pattern, text in ERRORS:
        assert {name for _, name, _, _ in string.Formatter().parse(text) if name} <= set(pattern.groupindex), text
