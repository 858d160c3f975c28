"""Production settings come from the environment and pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "WBC_TESTING",
            "WBC_DEV_DEFAULTS",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    base["WBC_DEV_DEFAULTS"] = "0"  # var/services.env says 1 on a development machine
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        BLIND_INDEX_KEY="blind-index-secret",
        ALLOWED_HOSTS="waybill.example.com",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_keys():
    result = _manage(["check"], SECRET_KEY="", FIELD_ENCRYPTION_KEYS="", BLIND_INDEX_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
