"""The course in a real browser: widgets render and respond in JupyterLab and in Voilà.

nbval never looks at widget views or images, so these tests open a lesson in headless
Chromium (Debian's ``chromium`` driven by the Python ``playwright`` package; Playwright's own
browser download is not used), run it, check that the widgets rendered (a slider element
exists, no "Error displaying widget"), move a slider, check that the widget's output
changed, and save a screenshot under the test's temporary directory. A third test opens the
static HTML build (``glmmteach html``) and follows its table of contents, and checks
that its formulas render with the network switched off (MathJax is bundled).

Everything the servers write (settings, runtime files, caches) goes into the test's
temporary directory: HOME, the JUPYTER_* directories, MPLCONFIGDIR and IPYTHONDIR point
there (TMPDIR too, for Voilà's connection files), the notebook is a temporary copy, and
JupyterLab's news pop-up and autosave are switched off through an ``overrides.json`` (which
also makes JupyterLab render every cell, not only the visible ones, so that the test can see
every prompt). The servers and their kernels are always shut down, also when a test fails.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LESSON = ROOT / "lessons" / "02-simulating-log-odds.ipynb"  # fast, two explorers with sliders
# the other lessons with explorers; each is opened in Voila and one control is moved
OTHER_LESSONS = [ROOT / "lessons" / name for name in (
    "03-fitting.ipynb", "04-interpreting.ipynb", "05-checking.ipynb",
    "06-going-further.ipynb")]
STARTUP_TIMEOUT = 90.0
RUN_TIMEOUT = 180.0


def _require_browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium "
                    "(apt-get install -y chromium; .ci/run does this)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the Python package playwright is not installed (pip install playwright)")


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- isolation


@pytest.fixture
def sandbox(tmp_path):
    """Directories and environment for a server that writes nothing outside tmp_path."""
    dirs = {name: tmp_path / name for name in
            ("home", "config", "data", "runtime", "mpl", "ipython", "settings", "notebooks",
             "logs", "tmp")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ)
    env.update({
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "MPLCONFIGDIR": str(dirs["mpl"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "TMPDIR": str(dirs["tmp"]),  # Voilà keeps its kernels' connection files there
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    # no news pop-up (it would cover the screenshot), no autosave (it would write outputs)
    (dirs["settings"] / "overrides.json").write_text(json.dumps({
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                        "checkForUpdates": False},
        "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
        # render every cell (JupyterLab 4 otherwise renders only the visible ones)
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    }))
    return dirs, env


def _kernel_pids(sandbox_dir: Path) -> list[int]:
    """Kernels started by our server: their connection file lies in our sandbox."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(sandbox_dir) in cmdline and "ipykernel" in cmdline:
            pids.append(int(proc.name))
    return pids


@contextlib.contextmanager
def _server(cmd: list[str], env: dict, cwd: Path, logs: Path, ready_url: str | None,
            port: int, sandbox_dir: Path, shutdown_url: str | None = None):
    """Start a server, wait until it answers, and always stop it and its kernels."""
    out = open(logs / "server.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n"
                                   + (logs / "server.log").read_text(errors="replace")[-3000:])
            try:
                if ready_url is None:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                else:
                    with urllib.request.urlopen(ready_url, timeout=2) as r:
                        if r.status == 200:
                            break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start:\n"
                                   + (logs / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield proc
    finally:
        if shutdown_url is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                req = urllib.request.Request(shutdown_url, method="POST", data=b"")
                urllib.request.urlopen(req, timeout=5).close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for pid in _kernel_pids(sandbox_dir):  # kernels run in their own sessions
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        out.close()


def _json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


# ----------------------------------------------------------------------------- page helpers


def _wait(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _widget_state(box) -> tuple[str, str]:
    """What a widget box shows: its text and the source of its figure."""
    text = box.inner_text()
    img = box.locator("img")
    src = img.first.get_attribute("src") if img.count() else ""
    return text, src or ""


def _move_slider_and_check(page, shot: Path) -> dict:
    """Move the first slider of an explorer with a figure; return what changed."""
    assert page.get_by_text("Error displaying widget").count() == 0
    sliders = page.locator(".widget-slider")
    assert sliders.count() >= 1, "no slider element: the widgets did not render"
    slider = sliders.first
    box = slider.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    box.scroll_into_view_if_needed()
    _wait(lambda: box.locator("img").count() > 0, 60, "the explorer's figure")
    before = _widget_state(box)
    readout = slider.locator(".widget-readout").first
    old_value = readout.inner_text()
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(8):  # keyboard steps; continuous_update=False reacts to 'change'
        page.keyboard.press("ArrowRight")
    if readout.inner_text() == old_value:  # fall back to dragging the handle
        hb = handle.bounding_box()
        page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
        page.mouse.down()
        page.mouse.move(hb["x"] + 80, hb["y"] + hb["height"] / 2, steps=8)
        page.mouse.up()
    new_value = readout.inner_text()
    assert new_value != old_value, "the slider did not move"
    _wait(lambda: _widget_state(box) != before and _widget_state(box)[1], 60,
          "the explorer's output to change")
    # wait for the figure to stop changing (the Output is cleared and redrawn)
    stable_since, last = time.monotonic(), _widget_state(box)
    deadline = time.monotonic() + 30
    while time.monotonic() - stable_since < 1.5 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = _widget_state(box)
        if now != last:
            stable_since, last = time.monotonic(), now
    after = _widget_state(box)
    assert after[0] != before[0] or after[1] != before[1]
    assert page.get_by_text("Error displaying widget").count() == 0
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(shot))
    return {"old": old_value, "new": new_value, "text_before": before[0],
            "text_after": after[0], "figure_changed": after[1] != before[1]}


def _change_menu_and_check(page, shot: Path) -> dict:
    """Choose another entry of the first dropdown of an explorer; return what changed."""
    assert page.get_by_text("Error displaying widget").count() == 0
    menus = page.locator(".widget-dropdown select")
    assert menus.count() >= 1, "no dropdown element: the widgets did not render"
    menu = menus.first
    box = menu.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    box.scroll_into_view_if_needed()
    _wait(lambda: box.locator("img").count() > 0, 60, "the explorer's figure")
    before = _widget_state(box)
    options = menu.locator("option").all_inner_texts()
    assert len(options) >= 2, options
    old_value = menu.input_value()
    menu.select_option(index=1 if menu.evaluate("e => e.selectedIndex") != 1 else 0)
    new_value = menu.input_value()
    assert new_value != old_value, "the menu did not change"
    _wait(lambda: _widget_state(box)[1] and _widget_state(box)[1] != before[1], 90,
          "the explorer's figure to change")
    # wait for the output to stop changing (the Output is cleared and redrawn)
    stable_since, last = time.monotonic(), _widget_state(box)
    deadline = time.monotonic() + 30
    while time.monotonic() - stable_since < 1.5 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = _widget_state(box)
        if now != last:
            stable_since, last = time.monotonic(), now
    after = _widget_state(box)
    assert page.get_by_text("Error displaying widget").count() == 0
    page.screenshot(path=str(shot))
    return {"old": old_value, "new": new_value, "figure_changed": after[1] != before[1]}


@contextlib.contextmanager
def _browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
        finally:
            browser.close()


# ----------------------------------------------------------------------------- the tests


def test_lesson_widgets_work_in_jupyterlab(sandbox, tmp_path):
    _require_browser()
    dirs, env = sandbox
    nb = dirs["notebooks"] / LESSON.name
    shutil.copy2(LESSON, nb)
    original = LESSON.read_bytes()
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={dirs['notebooks']}",
           f"--LabApp.app_settings_dir={dirs['settings']}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # JupyterLab refuses root without it
        cmd.append("--allow-root")
    with _server(cmd, env, dirs["notebooks"], dirs["logs"], f"{base}/api/status?token={token}",
                 port, tmp_path, shutdown_url=f"{base}/api/shutdown?token={token}"), \
            _browser() as page:
        page.goto(f"{base}/lab/tree/{nb.name}?token={token}", timeout=60_000)
        page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)

        def kernel_ready():  # "Run All" before the kernel is connected would be lost
            for s in _json(f"{base}/api/sessions?token={token}"):
                k = s.get("kernel") or {}
                if s.get("path", "").endswith(nb.name) and k.get("execution_state") == "idle" \
                        and k.get("connections", 0) >= 1:
                    return True
            return False

        _wait(kernel_ready, 60, "the notebook's kernel to be connected and idle")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        n_code = page.locator(".jp-CodeCell").count()

        def finished():
            prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
            done = [t for t in prompts if t.strip().startswith("[") and t.strip()[1:2].isdigit()]
            return len(done) == n_code and not any("*" in t for t in prompts)

        _wait(finished, RUN_TIMEOUT, "all cells to run")
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                            ).count() == 0
        result = _move_slider_and_check(page, tmp_path / "jupyterlab.png")
        assert _kernel_pids(tmp_path), "the kernel should be visible to the clean-up check"
    assert (tmp_path / "jupyterlab.png").stat().st_size > 10_000
    assert result["figure_changed"]
    assert LESSON.read_bytes() == original  # the repository's notebook was not touched
    assert not _kernel_pids(tmp_path)


def test_lesson_widgets_work_in_voila(sandbox, tmp_path):
    _require_browser()
    if importlib.util.find_spec("voila") is None:
        pytest.skip("Voilà is not installed (pip install voila)")
    dirs, env = sandbox
    nb = dirs["notebooks"] / LESSON.name
    shutil.copy2(LESSON, nb)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = _load_tool("serve_demos").voila_command(nb, port=port, token=token,
                                                  open_browser=False)
    with _server(cmd, env, dirs["notebooks"], dirs["logs"], None, port, tmp_path), \
            _browser() as page:
        page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=RUN_TIMEOUT * 1000,
                  wait_until="domcontentloaded")
        page.wait_for_selector(".widget-slider", timeout=RUN_TIMEOUT * 1000)
        # Voilà hides the code: no input areas on the page
        assert page.locator(".jp-InputArea-editor").count() == 0
        result = _move_slider_and_check(page, tmp_path / "voila.png")
        assert _kernel_pids(tmp_path), "the kernel should be visible to the clean-up check"
    assert (tmp_path / "voila.png").stat().st_size > 10_000
    assert result["figure_changed"]
    assert not _kernel_pids(tmp_path)


def test_static_html_build_and_its_table_of_contents(tmp_path):
    build_html = _load_tool("build_html")
    index = build_html.build(tmp_path / "site")
    page = index.read_text(encoding="utf-8")
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))
    links = re.findall(r'href="(lessons/[^"#]+)#([^"]+)"', page)
    for lesson in lessons:
        html_page = tmp_path / "site" / "lessons" / f"{lesson.stem}.html"
        assert html_page.exists()
        assert f'href="lessons/{lesson.stem}.html"' in page
        found = build_html.headings(html_page.read_text("utf-8"))
        sections = [ident for level, ident, _ in found if level == 2]
        assert sections, f"{lesson.stem} has no sections"
        linked = [html.unescape(frag) for href, frag in links
                  if href == f"lessons/{lesson.stem}.html"]
        assert linked == sections  # every section is listed, and every link has its anchor
    lesson_page = (tmp_path / "site" / "lessons" / f"{LESSON.stem}.html").read_text("utf-8")
    assert 'src="../mathjax/MathJax.js?config=' in lesson_page
    assert re.search(r"https?://[^\"']*mathjax", lesson_page, re.IGNORECASE) is None
    assert (tmp_path / "site" / "mathjax" / "MathJax.js").is_file()
    for ex in sorted((ROOT / "exercises" / "student").glob("[0-9][0-9]-*.ipynb")):
        out = tmp_path / "site" / "exercises" / f"{ex.stem}.html"
        assert out.exists()
        assert "BEGIN SOLUTION" not in out.read_text("utf-8")
    _require_browser()
    with _browser() as browser_page:
        browser_page.goto(index.as_uri())
        links = browser_page.locator("ol.sections a")
        assert links.count() >= len(lessons)
        target = links.nth(0)
        href = target.get_attribute("href")
        target.click()
        browser_page.wait_for_load_state()
        fragment = href.split("#", 1)[1]
        assert browser_page.evaluate(
            "id => (document.getElementById(id) || document.getElementById("
            "decodeURIComponent(id))) !== null", html.unescape(fragment))
        assert browser_page.url.endswith(href.split("/", 1)[1])
        browser_page.screenshot(path=str(tmp_path / "html.png"))
        # the formulas render with no network: MathJax is bundled with the site
        offline = browser_page.context.browser.new_context(offline=True)
        try:
            page = offline.new_page()
            page.goto((tmp_path / "site" / "lessons" / f"{LESSON.stem}.html").as_uri())
            page.wait_for_function("() => document.querySelectorAll('.MathJax').length > 0",
                                   timeout=60_000)
            rendered = page.evaluate(
                "() => [document.querySelectorAll('.MathJax').length, document.querySelectorAll("
                "'script[type^=\"math/tex\"]').length]")
            assert rendered[0] > 0 and rendered[0] == rendered[1]  # every formula typeset
            text = page.inner_text("body")
            assert "$$" not in text and "\\frac" not in text
            page.screenshot(path=str(tmp_path / "html-offline-formulas.png"))
        finally:
            offline.close()


@pytest.mark.parametrize("lesson", OTHER_LESSONS, ids=lambda p: p.stem)
def test_the_explorers_of_lessons_03_to_06_work_in_voila(sandbox, tmp_path, lesson):
    """Each lesson runs in Voila, its widgets render, and moving one control redraws."""
    _require_browser()
    if importlib.util.find_spec("voila") is None:
        pytest.skip("Voila is not installed (pip install voila)")
    dirs, env = sandbox
    nb = dirs["notebooks"] / lesson.name
    shutil.copy2(lesson, nb)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = _load_tool("serve_demos").voila_command(nb, port=port, token=token,
                                                  open_browser=False)
    with _server(cmd, env, dirs["notebooks"], dirs["logs"], None, port, tmp_path), \
            _browser() as page:
        # Voila runs the whole lesson (simulation studies included) before it serves the page
        page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=2 * RUN_TIMEOUT * 1000,
                  wait_until="domcontentloaded")
        page.wait_for_selector(".widget-slider, .widget-dropdown",
                               timeout=2 * RUN_TIMEOUT * 1000)
        shot = tmp_path / f"{lesson.stem}.png"
        if page.locator(".widget-slider").count():
            result = _move_slider_and_check(page, shot)
        else:
            result = _change_menu_and_check(page, shot)
    assert shot.stat().st_size > 10_000
    assert result["figure_changed"]
    assert not _kernel_pids(tmp_path)
