"""A throwaway PostgreSQL + PostGIS server for the tests, started once per session.

- The server binaries and the PostGIS extension come from Debian's packages, installed by
  ``tools/install_postgis.sh`` (what ``make test`` runs). The tests fail (not skip) when they are
  missing, unless ``SITESCORE_SKIP_POSTGIS=1`` or the install script recorded why it could not
  install them (``.cache/postgis-unavailable``); then they are skipped with that reason.
- ``initdb`` writes a fresh cluster into a temporary folder; the server listens on a unix socket
  in that folder and on 127.0.0.1 at a free port, nowhere else, with password (SCRAM) logins
  only, so a wrong password really is refused. PostgreSQL refuses to run as root: as root the
  cluster belongs to the ``postgres`` system user (``nobody`` when there is none) and every
  server command runs through ``runuser``.
- At the end of the session the server is stopped (``pg_ctl stop -m fast``) and the folder
  removed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_ENV = "SITESCORE_SKIP_POSTGIS"
UNAVAILABLE_MARKER = REPO / ".cache" / "postgis-unavailable"
INSTALL_HINT = ("run `bash tools/install_postgis.sh` (what `make test` does), or set "
                f"{SKIP_ENV}=1 to skip the PostGIS tests on purpose")
START_TIMEOUT_S = 60
USER = "sitescore"
PASSWORD = "pg-Secret-4217"
DATABASE = "sitescore_test"


def find_bindir() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                        reverse=True)
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        d = Path(out.stdout.strip())
        if out.returncode == 0 and (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def _sharedir(bindir: Path) -> Path:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    return Path("/usr/share/postgresql") / bindir.parent.name


def require_postgis() -> Path:
    """The server's bin folder; skips when asked to or when installing was impossible, and
    otherwise fails loudly when the server or the extension is missing."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1")
    bindir = find_bindir()
    ok = bindir is not None and (_sharedir(bindir) / "extension" / "postgis.control").exists()
    if ok:
        return bindir  # type: ignore[return-value]
    if UNAVAILABLE_MARKER.exists():
        reason = UNAVAILABLE_MARKER.read_text().strip() or "install script failed"
        pytest.skip(f"PostgreSQL + PostGIS could not be installed: {reason}")
    what = "PostgreSQL server binaries (initdb, pg_ctl)" if bindir is None else \
        f"the PostGIS extension for {bindir}"
    pytest.fail(f"{what} not found: {INSTALL_HINT}", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgisServer:
    bindir: Path
    root: Path          # temporary folder: data/, the socket, the log
    port: int
    os_user: str | None  # the system user the server runs as when we are root

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, *, password: str | None = PASSWORD, tcp: bool = False,
            database: str = DATABASE, user: str = USER) -> str:
        """postgresql:// URL over the unix socket (default) or TCP on 127.0.0.1."""
        auth = f"{user}:{password}" if password is not None else user
        if tcp:
            return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"
        return f"postgresql://{auth}@/{database}?host={self.root}&port={self.port}"

    def connect(self, database: str = DATABASE, autocommit: bool = True):
        import psycopg
        return psycopg.connect(host=str(self.root), port=self.port, user=USER, password=PASSWORD,
                               dbname=database, autocommit=autocommit, connect_timeout=10)

    def engine(self):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool
        return create_engine(self.url().replace("postgresql://", "postgresql+psycopg://", 1),
                             poolclass=NullPool)

    def run_as_owner(self, *args: str, timeout: float = START_TIMEOUT_S + 30) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C", "LANG": "C"})

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                out = self.run_as_owner(self.bindir / "pg_ctl", "-D", self.data, "stop", "-m", "fast",
                                        "-w", "-t", "30", timeout=60)
                if out.returncode != 0:
                    self.run_as_owner(self.bindir / "pg_ctl", "-D", self.data, "stop", "-m",
                                      "immediate", "-w", "-t", "30", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _os_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.fail("running as root and neither a 'postgres' nor a 'nobody' user exists to run "
                "the test server as", pytrace=False)


def start_server() -> PostgisServer:
    """initdb, start, create the test database with the postgis extension; fails with the
    server's log when any step does not work within its time limit."""
    bindir = require_postgis()
    os_user = _os_user()
    root = Path(tempfile.mkdtemp(prefix="sitescore-pg-", dir="/tmp" if Path("/tmp").is_dir() else None))
    server = PostgisServer(bindir, root, _free_port(), os_user)
    try:
        pwfile = root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        os.chmod(pwfile, 0o600)
        if os_user:
            pw = pwd.getpwnam(os_user)
            for p in (root, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        out = server.run_as_owner(bindir / "initdb", "-D", server.data, "-U", USER,
                                  f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                                  "--no-locale", "--no-sync")
        pwfile.unlink()
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{out.stdout}\n{out.stderr}")
        options = (f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=30")
        out = server.run_as_owner(bindir / "pg_ctl", "-D", server.data, "-l", server.log, "-w",
                                  "-t", str(START_TIMEOUT_S), "-o", options, "start")
        if out.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{out.stdout}\n{out.stderr}\n"
                               f"{server.log_tail()}")
        with server.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with server.connect() as conn:
            conn.execute("CREATE EXTENSION postgis")
    except BaseException as exc:
        server.stop()
        if isinstance(exc, (pytest.skip.Exception, pytest.fail.Exception)):
            raise
        pytest.fail(f"could not start the PostGIS test server: {exc}", pytrace=False)
    return server
