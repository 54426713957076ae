"""The shape of the code itself: the limits a newcomer reads it by (benchmarks/code_shape.py),
and the layering the design promises."""
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import code_shape  # noqa: E402


def test_functions_modules_and_handlers_stay_within_their_limits():
    for name, values in code_shape.measure().items():
        over = [f"{where} ({value})" for value, where in values if value > code_shape.LIMITS[name]]
        assert not over, f"{name} over {code_shape.LIMITS[name]}: {', '.join(over)}"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_core_never_imports_gradio_and_no_tab_imports_another():
    for path in (ROOT / "cnnzoo").rglob("*.py"):
        assert not any(name.split(".")[0] == "gradio" for name in imported_modules(path)), path
    tabs = {p.stem for p in (ROOT / "ui").glob("*_tab.py")}
    for path in (ROOT / "ui").glob("*.py"):
        others = {name.split(".")[1] for name in imported_modules(path) if name.startswith("ui.")} & tabs
        assert not others - {path.stem}, f"{path.name} imports the tab(s) {others}"


def test_importing_cnnzoo_stays_light():
    """Nothing happens at import: no gradio, and torchvision and matplotlib only once a function
    that needs them runs (importing torchvision.ops alone costs the app's start-up 1.4 s)."""
    import subprocess

    code = "import sys, cnnzoo, cnnzoo.trainer, cnnzoo.gan_trainer; print(sorted(m for m in ('gradio', 'torchvision', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
