"""PostgreSQL for the multi-instance tests: the throwaway server of the run, a fresh database per
test on it, and servers of a test's own (to stop and start under a running instance).

Tests/e2e/run.sh starts one throwaway server (scripts/throwaway-postgres.sh) and passes its
superuser URL as LAB_TEST_POSTGRES_URL; never a database the machine had.
"""

import os
import shutil
import subprocess
import tempfile
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "scripts" / "throwaway-postgres.sh"


def admin_url():
    url = os.environ.get("LAB_TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError("LAB_TEST_POSTGRES_URL is not set: run the suite with Tests/e2e/run.sh, which starts "
                           "a throwaway PostgreSQL (scripts/throwaway-postgres.sh)")
    return url


def with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def with_password(url, password):
    parts = urllib.parse.urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def sql(url, statement):
    """Runs `statement` with psql; returns what it printed (unaligned, tuples only)."""
    result = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAqc", statement], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"psql failed on {statement!r}: {result.stderr}")
    return result.stdout.strip()


class Database:
    """A fresh database on the run's throwaway server; `drop()` removes it."""

    def __init__(self):
        self.admin = admin_url()
        self.name = "lab_e2e_" + uuid.uuid4().hex
        sql(self.admin, f"CREATE DATABASE {self.name}")
        self.url = with_database(self.admin, self.name)

    def sql(self, statement):
        return sql(self.url, statement)

    def drop(self):
        sql(self.admin, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class OwnServer:
    """A throwaway PostgreSQL server of one test, which it may stop and start again."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="concurrency-lab-pg-e2e.", dir="/tmp")
        self.url = self._run("start", self.dir)
        self.port = urllib.parse.urlsplit(self.url).port

    def _run(self, *args):
        return subprocess.run([str(SCRIPT), *args], check=True, capture_output=True, text=True,
                              timeout=120).stdout.strip()

    def stop(self):
        self._run("stop", self.dir)

    def start(self):
        self._run("start", self.dir, str(self.port))

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
