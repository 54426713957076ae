"""Every tab as a class sees it: on a 1024×768 projector and a 390×844 phone (issue #14).

For each tab at both sizes: every tab name can be reached without a menu, no label box lies on
an image's or a plot's content, no picture of a gallery a student reads hides in its scroll box, labels and field notes read at 4.5:1 or better, the page does
not scroll sideways (wide tables scroll inside their own box), and the browser console stays
free of errors. Saves <tab>-<width>.png into
$CNNZOO_SCREENSHOT_DIR or tmp_path (docs/screenshots holds the ones the README shows).
"""
from __future__ import annotations

import pytest

TIMEOUT_MS = 60_000
SIZES = [(1024, 768), (390, 844)]
# (tab, what shows once its first view is drawn; None: nothing is computed on opening).
# "GAN/Train a GAN": the GAN tab's tab "Train a GAN".
TABS = [
    ("Shapes", "#shapes-table table"),
    ("Train", None),
    ("Inside", "#inside-maps img"),
    ("CAM", "#cam-overlays img"),
    ("GAN/Generate and walk", "#gan-grid img"),
    ("GAN/Train a GAN", None),
    ("Experiments", None),
    ("Report", None),
]


def shot_name(tab: str) -> str:
    """The screenshot's name: the first word of each tab on the way ("GAN/Train a GAN": gan-train)."""
    return "-".join(part.split()[0].lower() for part in tab.split("/"))


# Label boxes that cover a picture, a plot or a chart: [label text, what it covers]
LABELS_OVER_CONTENT = """() => {
  const covered = [];
  for (const label of document.querySelectorAll('label[data-testid="block-label"]')) {
    const block = label.closest('.block');
    if (!block || !label.offsetParent) continue;  // hidden: another tab, a closed accordion
    const l = label.getBoundingClientRect();
    for (const content of block.querySelectorAll('img, canvas, svg.marks, .js-plotly-plot')) {
      const c = content.getBoundingClientRect();
      if (label.contains(content) || c.width < 24 || c.height < 24) continue;  // the label's own icon
      const dx = Math.min(l.right, c.right) - Math.max(l.left, c.left);
      const dy = Math.min(l.bottom, c.bottom) - Math.max(l.top, c.top);
      if (dx > 2 && dy > 2) covered.push([label.innerText.trim(), content.tagName]);
    }
  }
  return covered;
}"""


# Labels, label pills and field notes whose text reads at less than WCAG AA's 4.5:1 against what
# is behind it (a projector washes out what a laptop screen still shows): [text, contrast]
LOW_CONTRAST = r"""() => {
  const lum = (rgb) => rgb.map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
                          .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const parse = (css) => (css.match(/[\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  for (const el of document.querySelectorAll('[data-testid="block-info"], [data-testid="block-label"], .info-text')) {
    if (!el.offsetParent || !el.innerText.trim()) continue;
    const fg = parse(getComputedStyle(el).color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) found.push([el.innerText.trim().slice(0, 40), Math.round(ratio * 100) / 100]);
  }
  return found;
}"""


# Sliders whose printed ends are not the control's own: [label, min, max, what the page prints]
SLIDER_ENDS = """() => [...document.querySelectorAll('input[type=range]')].filter(r => r.offsetParent).flatMap(r => {
  const spans = [...r.closest('.block').querySelectorAll('span')].map(e => e.innerText.trim()).filter(Boolean);
  const ends = spans.slice(-2).map(Number);
  return ends[0] === Number(r.min) && ends[1] === Number(r.max) ? [] : [[spans[0], r.min, r.max, spans.slice(-2)]];
})"""


# Pictures of a gallery a student reads (.cnnzoo-captions: CAM overlays, misclassified images)
# hidden below the bottom of the gallery's own scroll box: [gallery id, caption]
HIDDEN_IN_A_GALLERY = """() => [...document.querySelectorAll('.cnnzoo-captions .grid-wrap')].filter(w => w.offsetParent)
  .flatMap(wrap => { const box = wrap.getBoundingClientRect();
    return [...wrap.querySelectorAll('.thumbnail-item')].filter(item => item.getBoundingClientRect().bottom > box.bottom + 1)
      .map(item => [wrap.closest('[id]')?.id, item.innerText.trim()]); })"""


def scroll_through(page):
    """Scroll down the page a screen at a time and back: gradio's pictures load lazily, when a
    student scrolls to them, so a full-page screenshot would show empty boxes below the fold."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for top in range(0, height, page.viewport_size["height"]):
        page.evaluate(f"window.scrollTo(0, {top})")
        page.wait_for_timeout(150)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)


@pytest.fixture(scope="module")
def pages(browser, app_url):
    """One page per size, every tab opened once, with what its console said."""
    opened = {}
    for width, height in SIZES:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda message, page=page: message.type == "error" and page.console_errors.append(message.text))
        page.on("pageerror", lambda error, page=page: page.console_errors.append(str(error)))
        page.goto(app_url, wait_until="load")
        page.get_by_role("tab", name="Shapes").wait_for(timeout=TIMEOUT_MS)
        opened[width] = page
    yield opened
    for page in opened.values():
        page.context.close()


@pytest.mark.parametrize("width", [width for width, _ in SIZES])
def test_every_tab_name_is_on_the_page(pages, width):
    page = pages[width]
    for tab in dict.fromkeys(path.split("/")[0] for path, _ in TABS):
        assert page.get_by_role("tab", name=tab, exact=True).is_visible(), f"{tab} is hidden at {width} px (behind a menu?)"


@pytest.mark.parametrize("tab, drawn", TABS)
@pytest.mark.parametrize("width", [width for width, _ in SIZES])
def test_a_tab_reads_at_projector_and_phone_size(pages, screenshot_dir, width, tab, drawn):
    page = pages[width]
    for name in tab.split("/"):
        page.get_by_role("tab", name=name, exact=True).click()
    if drawn:
        page.locator(drawn).first.wait_for(state="attached", timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the plots and pictures that follow the first view
    scroll_through(page)
    page.screenshot(path=str(screenshot_dir / f"{shot_name(tab)}-{width}.png"), full_page=True)
    assert page.evaluate(LABELS_OVER_CONTENT) == []
    assert page.evaluate(LOW_CONTRAST) == []
    assert page.evaluate(SLIDER_ENDS) == []
    assert page.evaluate(HIDDEN_IN_A_GALLERY) == []
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width + 1, f"the {tab} tab is {scroll_width} px wide on a {width} px screen"
    assert page.console_errors == [], page.console_errors


# A table scrolled to its right end: its header names, and which of them are still in view
SCROLLED_RIGHT = """(id) => {
  const block = document.getElementById(id);
  const scroller = block.querySelector('.virtual-table-viewport');
  scroller.scrollLeft = scroller.scrollWidth;
  const view = scroller.getBoundingClientRect();
  return [...block.querySelectorAll('th')].map(th => {
    const r = th.getBoundingClientRect();
    return [th.innerText.trim(), r.left >= view.left - 1 && r.right <= view.right + 1];
  });
}"""


@pytest.mark.parametrize("table", ["shapes-table", "shapes-calculator"])
def test_a_phone_reads_the_layer_tables_key_columns_beside_the_layer_name(pages, table):
    """The Shapes tab's tables on a phone: output, params and MACs come right after the layer's
    name, and the name stays in view while the table scrolls sideways (issue #14 item 5)."""
    page = pages[390]
    page.get_by_role("tab", name="Shapes").click()
    page.locator(f"#{table}").get_by_text("layer1.0.conv1").first.wait_for(timeout=TIMEOUT_MS)
    headers = page.evaluate(SCROLLED_RIGHT, table)
    names = [name for name, _ in headers]
    assert names[:2] == ["#", "layer"], names
    if table == "shapes-table":
        assert names[2:5] == ["output (C × H × W)", "params", "MACs"], names
    page.wait_for_timeout(300)
    in_view = dict(page.evaluate(SCROLLED_RIGHT, table))
    assert in_view["layer"] and in_view[names[-1]], headers  # the name and the last column, side by side
