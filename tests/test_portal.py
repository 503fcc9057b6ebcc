"""The auditor portal of `audit serve`, driven in a real headless Chromium (Selenium).

One service for the module (a real `audit serve` subprocess, tests/servekit.py) with two audits of
german-credit (v1 seed 0, v2 seed 1), run by the admin (this process's OS account, over the Unix
socket). Three portal users with tokens (audience audit-serve): vera (viewer), abe (approver,
who did not run the audit) and otto (auditor). The tests run in file order and share the
service's state: abe's approval is what the history page lists.

Every page is screenshotted into $AUDIT_SCREENSHOTS (else a temporary folder), checked not blank
and checked for no horizontal overflow at 1280 px.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait
from servekit import GERMAN, Served, start_service, write_spec

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    # CI installs them (.ci/system-deps): there a missing browser is a failure, not a skip
    (pytest.fail if os.environ.get("CI") else pytest.skip)(
        "the portal tests need /usr/bin/chromium and /usr/bin/chromedriver (.ci/system-deps)",
        allow_module_level=True,
    )

REPORT = "/portal/reports/german-credit/v1"
USERS = {"vera": ["viewer"], "abe": ["approver"], "otto": ["auditor"]}


@dataclass
class Portal:
    served: Served
    tokens: dict[str, str]
    shots: Path

    @property
    def url(self) -> str:
        return self.served.url


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    served = start_service(tmp_path_factory.mktemp("portal") / "srv")
    try:
        for user, roles in USERS.items():  # rbac.yaml edits one after the other
            served.bind("services", user, roles)

        def issue(user: str) -> str:
            args = ["token", "issue", "--user", user, "--roles", ",".join(USERS[user])]
            return served.cli(*args, "--audience", "audit-serve").stdout.strip()

        model = GERMAN / "models" / "german-rf.skops"
        specs = tmp_path_factory.mktemp("specs")
        with ThreadPoolExecutor(5) as pool:
            # what register_german does, both at once, while the tokens are issued
            added = [
                pool.submit(
                    served.cli,
                    "registry",
                    "add-model",
                    str(model),
                    "--name",
                    "german",
                    "--version",
                    "1",
                    "--owner",
                    "credit-risk team",
                ),
                pool.submit(
                    served.cli,
                    "registry",
                    "add-dataset",
                    str(GERMAN / "german_test.csv"),
                    "--name",
                    "german-test",
                    "--version",
                    "1",
                ),
            ]
            tokens = {u: pool.submit(issue, u) for u in USERS}
            for done in added:
                done.result()
            # one after the other: v2 names v1 as its previous version
            served.cli("run", str(write_spec(specs / "seed0", seed=0)))
            served.cli("run", str(write_spec(specs / "seed1", seed=1)), "--no-pdf")
            issued = {u: f.result() for u, f in tokens.items()}
        shots = Path(os.environ.get("AUDIT_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
        shots.mkdir(parents=True, exist_ok=True)
        yield Portal(served, issued, shots)
    finally:
        served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads anything
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console: CSP reports
    driver = webdriver.Chrome(service=ChromeService(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    viewport(driver, 1280, 800)
    try:
        yield driver
    finally:
        driver.quit()


# --- helpers ---------------------------------------------------------------------------------


def viewport(driver: WebDriver, width: int, height: int) -> None:
    """Make the page's viewport exactly ``width`` x ``height`` CSS pixels."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def shoot(
    portal: Portal, driver: WebDriver, name: str, width: int = 1280, full: bool = False
) -> Path:
    """Screenshot the page; it must not be blank nor wider than the viewport (1280 px)."""
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert inner == width, f"the viewport is {inner} px wide, not {width}"
    assert scroll <= inner, f"{name}: the page is {scroll} px wide in a {inner} px viewport"
    path = portal.shots / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot of {name}"
    from PIL import Image

    with Image.open(path) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) >= 8, f"{name}: the screenshot looks blank"
    if full:  # the whole page too, for a person to look at
        height = driver.execute_script("return document.documentElement.scrollHeight")
        viewport(driver, width, min(int(height), 8000))
        try:
            driver.save_screenshot(str(portal.shots / f"{name}-full.png"))
        finally:
            viewport(driver, width, 800)
    return path


def text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def log_in(portal: Portal, driver: WebDriver, user: str) -> None:
    driver.delete_all_cookies()
    driver.get(portal.url + "/portal/login")
    driver.find_element(By.ID, "token").send_keys(portal.tokens[user])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith("/portal/"))
    assert f"service:{user}" in driver.find_element(By.CSS_SELECTOR, ".who").text


def session_of(driver: WebDriver) -> tuple[str, str]:
    """The browser's session cookie and the CSRF secret it carries (what a thief would have)."""
    cookie = driver.get_cookie("audit_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    body = cookie["value"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return str(cookie["value"]), str(claims["csrf"])


def browser_check(driver: WebDriver) -> str:
    """Wait for the in-browser verification; its state (ok or fail)."""
    WebDriverWait(driver, 30).until(
        lambda d: (
            d.find_element(By.ID, "browser-verify-result").get_attribute("data-state")
            in ("ok", "fail")
        )
    )
    return str(driver.find_element(By.ID, "browser-verify-result").get_attribute("data-state"))


def entries(portal: Portal, **match: Any) -> list[dict[str, Any]]:
    return [e for e in portal.served.entries() if all(e.get(k) == v for k, v in match.items())]


# --- tests -----------------------------------------------------------------------------------


def test_without_a_session_the_portal_answers_401_with_the_login_form(
    portal: Portal, browser: WebDriver
) -> None:
    """No cookie: 401 and the login form (logged); a bad token: refused, still logged out."""
    reply = httpx.get(portal.url + "/portal/", timeout=30)
    assert reply.status_code == 401
    assert 'name="token"' in reply.text
    assert entries(portal, actor="anonymous", resource="report:*", decision="deny")

    browser.delete_all_cookies()
    browser.get(portal.url + REPORT)
    assert browser.find_element(By.ID, "token")
    assert "Log in" in browser.find_element(By.TAG_NAME, "h1").text
    shoot(portal, browser, "01-login")

    browser.find_element(By.ID, "token").send_keys("eyJhbGciOiJub25lIn0.e30.forged")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert "refused" in text(browser, "login-error").lower()
    assert browser.get_cookie("audit_session") is None
    shoot(portal, browser, "02-login-refused")
    browser.get(portal.url + "/portal/")
    assert browser.find_element(By.ID, "token")  # still the login form
    refused = entries(portal, action="portal:login", decision="deny")
    assert refused and "login refused" in refused[-1]["reason"]


def test_after_logging_in_the_portal_returns_only_to_its_own_pages(portal: Portal) -> None:
    """The login form carries the page asked for; a crafted one naming another site (an open
    redirect: a phishing link through the portal's own login) goes to the front page instead.
    With ``back_to`` returning any target, ``//evil.example/portal/`` was the redirect."""
    reply = httpx.get(portal.url + REPORT, timeout=30)
    assert reply.status_code == 401 and f'name="back" value="{REPORT}"' in reply.text
    for back, to in [
        (REPORT, REPORT),
        ("//evil.example/portal/", "/portal/"),
        ("https://evil.example/portal/", "/portal/"),
        ("/portal/\\evil.example", "/portal/"),
    ]:
        data = {"token": portal.tokens["vera"], "back": back}
        reply = httpx.post(portal.url + "/portal/login", data=data, timeout=30)
        assert reply.status_code == 303 and reply.headers["location"] == to, back


def test_a_form_posted_from_another_site_is_refused(portal: Portal) -> None:
    """Login CSRF (another site logging the browser in as the attacker) and a cross-site
    approve: refused by the Origin check (logged); the same POST from the portal's own origin
    logs in. Without the check the cross-site login set the cookie (303)."""
    evil = {"Origin": "https://evil.example"}
    data = {"token": portal.tokens["abe"]}
    with httpx.Client(base_url=portal.url, timeout=30) as http:
        for origin in ("https://evil.example", "null", portal.url + ".evil.example"):
            reply = http.post("/portal/login", data=data, headers={"Origin": origin})
            assert reply.status_code == 401 and "another site" in reply.text, origin
        assert "audit_session" not in http.cookies
        reply = http.post("/portal/login", data=data, headers={"Origin": portal.url})
        assert reply.status_code == 303 and "audit_session" in http.cookies
        _header, body, _sig = http.cookies["audit_session"].split(".")
        csrf = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["csrf"]
        reply = http.post(REPORT + "/approve", data={"csrf": csrf}, headers=evil)
        assert reply.status_code == 403 and "another site" in reply.text
    refused = entries(portal, action="portal:login", decision="deny")
    assert "another site" in refused[-1]["reason"]
    crossed = entries(portal, actor="abe", action="report:approve", decision="deny")
    assert "another site" in crossed[-1]["reason"]


def test_a_viewer_reads_the_report_and_the_browser_verifies_its_digests(
    portal: Portal, browser: WebDriver
) -> None:
    log_in(portal, browser, "vera")
    browser.get_log("browser")  # drop the earlier pages' messages (the 401s)
    rows = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == ["v2", "v1"]
    assert all("PASS" in r.text and "not approved" in r.text for r in rows)
    shoot(portal, browser, "03-systems")

    browser.find_element(By.LINK_TEXT, "v1").click()
    assert browser.current_url.endswith(REPORT)
    assert "PASS" in text(browser, "outcome")
    assert (
        "accuracy-floor" in browser.find_element(By.ID, "rules").find_element(By.XPATH, "..").text
    )
    # a viewer may read but not verify on the server: offered nothing, and nothing is logged
    assert "report:verify" in text(browser, "server-verify")
    assert browser_check(browser) == "ok"
    assert "Digests match" in text(browser, "browser-verify-result")
    checked = browser.find_elements(By.CSS_SELECTOR, "#browser-verify-files li.match")
    assert any("report.html" in li.text for li in checked)
    assert any("signature" in li.text for li in checked)
    with pytest.raises(NoSuchElementException):
        browser.find_element(By.ID, "approve")
    shoot(portal, browser, "04-report-viewer", full=True)
    console = [m for m in browser.get_log("browser") if m["level"] == "SEVERE"]
    assert not console, console  # nothing the page's CSP blocked, no failed request
    viewport(browser, 400, 800)  # a phone's width: still no page-wide horizontal scroll
    try:
        shoot(portal, browser, "04-report-viewer-narrow", width=400)
    finally:
        viewport(browser, 1280, 800)

    browser.switch_to.frame(browser.find_element(By.ID, "report-frame"))
    try:
        assert "german-credit" in browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.switch_to.default_content()
    assert not entries(portal, actor="vera", action="report:verify")

    # a forged approval with the viewer's own cookie and CSRF secret: refused by RBAC, logged
    cookie, csrf = session_of(browser)
    with httpx.Client(base_url=portal.url, cookies={"audit_session": cookie}) as http:
        reply = http.post(REPORT + "/approve", data={"csrf": csrf, "note": "forged"})
    assert reply.status_code == 403
    assert "may not &#39;report:approve&#39;" in reply.text
    denied = entries(portal, actor="vera", action="report:approve", decision="deny")
    assert denied and denied[-1]["resource"] == "report:german-credit/v1"


def test_an_approver_approves_through_the_form(portal: Portal, browser: WebDriver) -> None:
    """Without the form's CSRF field the POST is refused (and logged); the form approves.
    With the CSRF check removed, the cookie alone approved (303, and the form then found the
    report already approved)."""
    log_in(portal, browser, "abe")
    cookie, _csrf = session_of(browser)
    with httpx.Client(base_url=portal.url, cookies={"audit_session": cookie}) as http:
        reply = http.post(REPORT + "/approve", data={"note": "no csrf"})
    assert reply.status_code == 403 and "CSRF" in reply.text
    assert entries(portal, actor="abe", action="report:approve", decision="deny")

    browser.get(portal.url + REPORT)
    assert "not approved" in text(browser, "approval-state")
    browser.find_element(By.ID, "note").send_keys("reviewed in the portal")
    shoot(portal, browser, "05-report-approver")
    browser.find_element(By.ID, "approve").click()
    # the form posts and is redirected back to this same URL: wait for the new page's text,
    # not the URL (which matches before the reload), ignoring the old page's vanished elements
    WebDriverWait(
        browser, 30, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
    ).until(lambda d: "Approved by service:abe" in text(d, "approval-state"))
    assert "Approved by service:abe" in text(browser, "approval-state")
    with pytest.raises(NoSuchElementException):
        browser.find_element(By.ID, "approve")  # approved once
    shoot(portal, browser, "06-report-approved", full=True)
    recorded = [
        e
        for e in entries(portal, actor="abe", action="report:approve", decision="allow")
        if "approval_sha256" in (e.get("details") or {})
    ]
    assert len(recorded) == 1 and recorded[0]["resource"] == "report:german-credit/v1"

    browser.get(portal.url + "/portal/")
    v1 = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")[1]
    assert "Approved by service:abe" in v1.text


def test_the_diff_page_lists_what_changed_between_v1_and_v2(
    portal: Portal, browser: WebDriver
) -> None:
    log_in(portal, browser, "otto")
    browser.get(portal.url + "/portal/systems/german-credit")
    shoot(portal, browser, "07-system")
    Select(browser.find_element(By.ID, "diff-a")).select_by_visible_text("v1")
    Select(browser.find_element(By.ID, "diff-b")).select_by_visible_text("v2")
    browser.find_element(By.CSS_SELECTOR, "form.inline button").click()
    WebDriverWait(browser, 20).until(lambda d: "/diff?" in d.current_url)
    changes = text(browser, "change-list").replace("\n", " ")
    assert "seed 0 -> 1" in changes
    assert "Explanations" in changes and "mean |SHAP|" in changes
    assert "no changes" not in changes.lower()
    shoot(portal, browser, "08-diff", full=True)
    assert entries(
        portal,
        actor="otto",
        action="report:read",
        resource="report:german-credit/v1,report:german-credit/v2",
    )


def test_an_auditor_sees_the_server_verification_and_the_history(
    portal: Portal, browser: WebDriver
) -> None:
    browser.get(portal.url + REPORT)
    assert "Intact" in text(browser, "server-verify")
    assert browser_check(browser) == "ok"
    shoot(portal, browser, "09-report-auditor")
    assert entries(portal, actor="otto", action="report:verify", decision="allow")

    browser.find_element(By.LINK_TEXT, "Who saw or changed this report").click()
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
    assert any("service:vera" in r and "report:read" in r and "allow" in r for r in rows)
    assert any("service:vera" in r and "report:approve" in r and "deny" in r for r in rows)
    assert any("service:abe" in r and "approval recorded" in r for r in rows)
    assert any("report:publish" in r for r in rows)
    assert any("log:read" in r and "service:otto" in r for r in rows)  # this very page
    registry = browser.find_element(By.ID, "registry").find_element(By.XPATH, "..").text
    assert "german@1" in registry and "german-test@1" in registry
    shoot(portal, browser, "10-history", full=True)


def test_a_tampered_bundle_file_shows_on_the_report_page(
    portal: Portal, browser: WebDriver
) -> None:
    """One byte of report.html changed in the service's reports folder: the server-side
    verification names the file, and so does the check in the browser."""
    html = portal.served.folder / "reports" / "german-credit" / "v1" / "report.html"
    os.chmod(html, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(html.read_bytes())
    at = data.index(b"german-credit")
    data[at] = ord("G")
    html.write_bytes(bytes(data))

    browser.get(portal.url + REPORT)
    problem = browser.find_element(By.ID, "server-verify")
    assert "Not intact" in problem.text and "report.html" in problem.text
    assert browser.find_element(By.ID, "not-intact").text == "NOT INTACT"  # beside the title
    assert browser_check(browser) == "fail"
    bad = browser.find_elements(By.CSS_SELECTOR, "#browser-verify-files li.mismatch")
    assert [li.text.split()[0] for li in bad] == ["report.html"]
    shoot(portal, browser, "11-report-tampered", full=True)


def test_a_forged_attestation_signature_fails_the_check_in_the_browser(
    portal: Portal, browser: WebDriver
) -> None:
    """v2's attestation re-signed by nobody (one signature byte changed): every file still
    matches its attested digest, so only the Ed25519 check in the browser can catch it."""
    path = portal.served.folder / "reports" / "german-credit" / "v2" / "attestation.json"
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    envelope = json.loads(path.read_bytes())
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    path.write_text(json.dumps(envelope), encoding="utf-8")

    browser.get(portal.url + "/portal/reports/german-credit/v2")
    assert "Not intact" in text(browser, "server-verify")
    assert browser_check(browser) == "fail"
    assert "signature could not be verified" in text(browser, "browser-verify-result")
    bad = browser.find_elements(By.CSS_SELECTOR, "#browser-verify-files li.mismatch")
    assert [li.text.split(":")[0] for li in bad] == ["signature"]
    shoot(portal, browser, "12-report-forged-signature")

    # the approver, approving it anyway: the library verifies first, 409 with the problem
    with httpx.Client(base_url=portal.url, timeout=60) as http:
        http.post("/portal/login", data={"token": portal.tokens["abe"]})
        _header, body, _sig = http.cookies["audit_session"].split(".")
        csrf = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["csrf"]
        reply = http.post("/portal/reports/german-credit/v2/approve", data={"csrf": csrf})
        assert reply.status_code == 409 and "Conflict" in reply.text
        assert "signature" in reply.text and "Traceback" not in reply.text
        missing = http.get("/portal/reports/german-credit/v9")
        assert missing.status_code == 404 and "there is no report german-credit v9" in missing.text
        bad = http.get("/portal/systems/german-credit/diff", params={"a": "1", "b": "x"})
        assert bad.status_code == 400 and "not a version number" in bad.text
