"""`bicameral ui` in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium with the system driver; `make browser` installs them). Runs come from the real CLI
against the loopback fake vLLM server. Screenshots land in build/ui-screenshots/ (or
$BICAMERAL_SCREENSHOTS) for a person to look at.

No skip when Chromium is missing: these tests fail, so CI cannot silently lose them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("BICAMERAL_SCREENSHOTS", ROOT / "build" / "ui-screenshots"))
CHROMIUM = os.environ.get("BICAMERAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BICAMERAL_CHROMEDRIVER", "/usr/bin/chromedriver")
UI_PORT = 8811
WAIT_S = 30


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _wait_for_port(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ui exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling for readiness, not timing
    raise RuntimeError("ui did not start")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download anything
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "Chromium is not installed: run `make browser` (apt: chromium chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FakeOpenAIServer]]:
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "ws").mkdir()
    with FakeOpenAIServer() as server:
        (tmp / "math.yaml").write_text(
            "name: math\nmodels:\n"
            f"  planner: {{base_url: '{server.base_url}', model: scout, max_retries: 0}}\n"
            f"  reasoner: {{base_url: '{server.base_url}', model: r1, max_retries: 0}}\n"
        )
        (tmp / "writer.yaml").write_text(
            "name: writer\nmodels:\n"
            f"  planner: {{base_url: '{server.base_url}', model: scout, max_retries: 0}}\n"
            "tools: {builtin: [write_file], require_approval: [write_file]}\n"
        )
        yield tmp, server


@pytest.fixture(scope="module")
def ui(setup: tuple[Path, FakeOpenAIServer]) -> Iterator[str]:
    tmp, server = setup
    url = f"sqlite:///{tmp / 'cp.sqlite'}"
    # A run whose planner server was down (oldest), a finished run whose reasoner output was
    # re-asked once, and a run paused for approval.
    down = _cli(
        "run",
        "math.yaml",
        "-t",
        "What is 1+1?",
        "--planner-url",
        "http://127.0.0.1:9/v1",
        "--checkpoint",
        url,
        "--thread",
        "down-1",
        "-q",
        cwd=tmp,
    )
    assert down.returncode != 0 and "Traceback" not in down.stderr, down.stderr
    delegate = ToolCallSpec("delegate", {"kind": "math", "task": "6*7"}, id="d1")
    server.enqueue(
        ChatReply(tool_calls=[delegate]),
        ChatReply('{"answer": 42}', reasoning="six sevens <b>are</b> 42"),
        ChatReply('{"answer": "42", "steps": ["multiply"]}'),
        ChatReply("<script>alert(1)</script> The answer is 42"),
    )
    done = _cli(
        "run",
        "math.yaml",
        "-t",
        "What is 6*7?",
        "--checkpoint",
        url,
        "--thread",
        "math-1",
        "-q",
        cwd=tmp,
    )
    assert done.returncode == 0, done.stderr
    write = ToolCallSpec("write_file", {"path": "a.txt", "content": "hi"}, id="w1")
    server.enqueue(ChatReply(tool_calls=[write]))
    paused = _cli(
        "run",
        "writer.yaml",
        "-t",
        "write a file",
        "--checkpoint",
        url,
        "--thread",
        "paused-1",
        "--workspace",
        str(tmp / "ws"),
        "-q",
        cwd=tmp,
    )
    assert paused.returncode == 0, paused.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "ui",
            "--checkpoint",
            url,
            "--port",
            str(UI_PORT),
            "--pipelines",
            str(tmp),
        ],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(UI_PORT, proc)
        yield f"http://127.0.0.1:{UI_PORT}"
    finally:
        proc.terminate()
        proc.wait(10)


def _wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT_S)


def test_runs_list_then_run_page_with_timeline_and_reask(browser: WebDriver, ui: str) -> None:
    browser.get(ui + "/")
    _wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.run-row")) == 3)
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.run-row")
    threads = [r.get_attribute("data-thread") for r in rows]
    assert threads == ["paused-1", "math-1", "down-1"]  # newest first
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("interrupted")
    _wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.run-row")) == 1)
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("")
    _wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.run-row")) == 3)
    browser.save_screenshot(str(SHOTS / "runs.png"))

    browser.find_element(By.CSS_SELECTOR, "tr.run-row[data-thread='math-1'] a").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "gantt")))
    bars = browser.find_elements(By.CSS_SELECTOR, "#gantt .bar")
    labels = " ".join(b.text for b in bars)
    assert "plan" in labels and "reason" in labels and "planner call" in labels
    enforcement = browser.find_element(By.ID, "enforcement").text
    assert "reasked after 2 attempt(s)" in enforcement and "Attempt 1 rejected" in enforcement
    assert "$.answer" in enforcement
    answer = browser.find_element(By.ID, "answer").text
    assert "<script>alert(1)</script> The answer is 42" in answer  # shown as text, not run
    assert browser.find_elements(By.CSS_SELECTOR, "#answer script") == []
    thinking = browser.find_element(By.CSS_SELECTOR, "details.thinking")
    assert thinking.get_attribute("open") is None  # collapsed by default
    assert "tokens" in browser.find_element(By.ID, "tokens-chart").text
    browser.save_screenshot(str(SHOTS / "run.png"))


def test_a_failed_model_call_is_a_bar_that_says_why(browser: WebDriver, ui: str) -> None:
    browser.get(ui + "/runs/down-1")
    _wait(browser).until(ec.presence_of_element_located((By.ID, "gantt")))
    [bar] = browser.find_elements(By.CSS_SELECTOR, "#gantt .bar.failed")
    assert bar.text.startswith("planner call failed")
    assert "ModelConnectionError" in str(bar.get_attribute("title"))
    assert "ModelConnectionError" in browser.find_element(By.CSS_SELECTOR, "p.errors").text
    browser.save_screenshot(str(SHOTS / "failed-call.png"))


def test_unknown_thread_is_a_404_page(browser: WebDriver, ui: str) -> None:
    browser.get(ui + "/runs/<no-such-thread>")
    assert "404" in browser.find_element(By.TAG_NAME, "h1").text
    assert "<no-such-thread>" in browser.find_element(By.TAG_NAME, "p").text


def test_approve_paused_run_from_the_page(
    browser: WebDriver, ui: str, setup: tuple[Path, FakeOpenAIServer]
) -> None:
    tmp, server = setup
    browser.get(ui + "/runs/paused-1")
    pending = _wait(browser).until(ec.presence_of_element_located((By.ID, "pending")))
    assert "write_file" in pending.text and '"a.txt"' in pending.text
    browser.save_screenshot(str(SHOTS / "approval.png"))
    server.enqueue(ChatReply("written"))
    browser.find_element(By.ID, "approve").click()
    _wait(browser).until(lambda d: d.find_element(By.ID, "run-status").text == "completed")
    assert (tmp / "ws" / "a.txt").read_text() == "hi"
    assert "written" in browser.find_element(By.ID, "answer").text
    browser.save_screenshot(str(SHOTS / "approved.png"))


def test_new_run_shows_live_events(
    browser: WebDriver, ui: str, setup: tuple[Path, FakeOpenAIServer]
) -> None:
    _, server = setup
    browser.get(ui + "/new")
    select = _wait(browser).until(ec.presence_of_element_located((By.ID, "pipeline-select")))
    _wait(browser).until(lambda d: len(Select(select).options) == 2)
    Select(select).select_by_visible_text("math.yaml")
    browser.find_element(By.ID, "task").send_keys("Say hi")
    browser.save_screenshot(str(SHOTS / "new-run.png"))
    server.enqueue(ChatReply("hi there"))
    browser.find_element(By.ID, "start").click()
    _wait(browser).until(lambda d: "/runs/" in d.current_url)
    _wait(browser).until(lambda d: d.find_element(By.ID, "run-status").text == "completed")
    live = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#live-events li")]
    assert any(t.startswith("node plan") for t in live) and "finished: completed" in live
    assert "hi there" in browser.find_element(By.ID, "answer").text
    browser.save_screenshot(str(SHOTS / "live-run.png"))


def test_cross_site_post_is_refused(ui: str) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        ui + "/api/runs",
        data=json.dumps({"pipeline": "math.yaml", "task": "x"}).encode(),
        headers={"Content-Type": "application/json", "Origin": "http://evil.example"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 403
