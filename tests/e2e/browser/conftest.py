"""Headless Chromium (Debian's, /usr/bin/chromium) driven by Playwright against the running
e2e stack's web service. Playwright never downloads a browser here."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from local_infra.stack_state import StackInfo

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not os.path.isfile(CHROMIUM):  # noqa: ASYNC240
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        # launch() starts Chromium with a fresh, temporary user data dir of its own.
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def web_url(running_stack: StackInfo) -> str:
    assert running_stack.web_url, "the stack runs no web service"
    return running_stack.web_url


@pytest_asyncio.fixture(loop_scope="session")
async def browser_context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh context per test: its own cookies, like a new visitor."""
    context = await chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    page = await browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    yield page
    csp = [error for error in errors if "Content Security Policy" in error]
    assert not csp, f"the page broke its Content-Security-Policy: {csp}"
    uncaught = [error for error in errors if not re.search(r"status of (4\d\d)", error)]
    assert not uncaught, f"script errors on the page: {uncaught}"


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
