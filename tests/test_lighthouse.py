"""Lighthouse (npm, pinned in package.json) on home, as an anonymous first visit, through the
e2e stack's gateway: performance at least 95 with compression on, no layout shift, and the
other categories' scores reported. Debian's Chromium, headless; no host but the gateway is
reached (Chromium resolves no other name, and Lighthouse itself fetches nothing)."""

import json
import os
import statistics
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROME_FLAGS = " ".join(
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        '--host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"',
    ]
)
CATEGORIES = ("performance", "accessibility", "best-practices")


def lighthouse(url: str, report: Path) -> dict[str, Any]:
    """One run with the desktop preset (the page as the issue measured it, 1x CPU and a
    fast link, simulated); its JSON report."""
    run = subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--no-enable-error-reporting",
            "--preset=desktop",
            f"--chrome-flags={CHROME_FLAGS}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--output=json",
            f"--output-path={report}",
        ],
        env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(report.read_text())
    assert "runtimeError" not in result, result.get("runtimeError")
    return result


def scores(result: dict[str, Any]) -> dict[str, int]:
    return {name: round(result["categories"][name]["score"] * 100) for name in CATEGORIES}


def test_home_scores_at_least_95_for_performance(stack, tmp_path):
    url = stack.url + "/"
    runs = [lighthouse(url, tmp_path / "run-1.json")]
    if scores(runs[0])["performance"] < 95:  # a busy machine: the median of three, as Lighthouse CI takes
        runs += [lighthouse(url, tmp_path / f"run-{n}.json") for n in (2, 3)]
    result = sorted(runs, key=lambda run: scores(run)["performance"])[len(runs) // 2]
    got = scores(result)
    print(f"Lighthouse (desktop) on {url}: {got}; performance of each run:", [scores(r)["performance"] for r in runs])

    audits = result["audits"]
    hosts = {urlsplit(item["url"]).netloc for item in audits["network-requests"]["details"]["items"]}
    assert hosts == {urlsplit(stack.url).netloc}, "nothing but the gateway is asked for"
    assert audits["uses-text-compression"]["score"] == 1, audits["uses-text-compression"].get("details")
    assert audits["cumulative-layout-shift"]["numericValue"] == 0
    assert statistics.median(scores(r)["performance"] for r in runs) >= 95, got
    assert got["accessibility"] >= 95 and got["best-practices"] >= 95, got
