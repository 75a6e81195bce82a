"""No secret is committed: scan every tracked file for keys, tokens and hard-coded Django secrets."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Local and test settings carry deliberate, documented throw-away keys; production reads the environment.
ALLOWED_SECRET_KEY_FILES = {"fracture_site/settings/local.py", "fracture_site/settings/test.py"}
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[sr]k_live_[A-Za-z0-9]{20,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"$<>{}]{3,}@"),
    "Django SECRET_KEY literal": re.compile(r"""SECRET_KEY\s*=\s*(?:\w+\s+or\s+)?["'][^"']{8,}["']"""),
}


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in filter(None, names.decode().split("\0")):
        path = ROOT / name
        if path.is_file() and path.stat().st_size < 2_000_000 and b"\0" not in path.read_bytes()[:4096]:
            files.append(path)
    return files


def test_no_secret_looking_string_is_committed():
    found = []
    for path in _tracked_text_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative == "tests/security/test_secrets.py":
            continue  # the patterns themselves
        text = path.read_text(errors="replace")
        for what, pattern in PATTERNS.items():
            if what == "Django SECRET_KEY literal" and relative in ALLOWED_SECRET_KEY_FILES:
                continue
            found += [f"{relative}: {what}: {m.group(0)[:40]}" for m in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_no_environment_or_key_files_are_tracked():
    risky = re.compile(r"(^|/)(\.env(\..+)?|.*\.(pem|key|p12|pfx)|id_rsa|id_ed25519|credentials\.json)$")
    tracked = [p.relative_to(ROOT).as_posix() for p in _tracked_text_files()]
    assert [name for name in tracked if risky.search(name) and not name.endswith(".env.example")] == []


def test_throwaway_keys_are_confined_to_local_and_test_settings():
    production = (ROOT / "fracture_site/settings/production.py").read_text()
    assert 'raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")' in production
    assert re.search(
        r"""SECRET_KEY\s*=\s*env\.str\("DJANGO_SECRET_KEY", default=""\)""",
        (ROOT / "fracture_site/settings/base.py").read_text(),
    )
