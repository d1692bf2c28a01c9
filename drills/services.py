"""The services a drill starts for itself and breaks on purpose: a PostgreSQL cluster, a Redis
server, an SMTP sink and (drill 6) PgBouncer, each on a free port of 127.0.0.1 with its files in
the drill's own temporary directory — never the machine's shared PostgreSQL or Redis."""

import email
import email.policy
import os
import pwd
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

PG_BIN = Path(os.environ.get("DRILLS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (the cluster's web nodes)."""
    for _ in range(50):
        base = 20000 + int.from_bytes(os.urandom(2), "big") % 20000
        held = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no free ports")


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- PostgreSQL --------------------------------------------------------------------------------


class Postgres:
    """A PostgreSQL cluster of the drill's own: initdb in a temporary directory, trust
    authentication on 127.0.0.1 only. initdb refuses to run as root, so as root it runs as the
    `postgres` account (DRILLS_PG_USER)."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.owner = None
        if os.geteuid() == 0:
            self.owner = pwd.getpwnam(os.environ.get("DRILLS_PG_USER", "postgres"))

    def url(self, database: str = "portal") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(
        self, *command: str, check: bool = True, as_owner: bool = True
    ) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.owner.pw_name, "--"] if self.owner and as_owner else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, cwd=self.root)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        return done

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.owner:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self._run(
            str(PG_BIN / "initdb"),
            f"--pgdata={self.data}",
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
            )

    def _ctl(self, *args: str) -> None:
        self._run(str(PG_BIN / "pg_ctl"), f"--pgdata={self.data}", f"--log={self.log}", *args)

    def start(self) -> None:
        self._ctl("--wait", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("--wait", f"--mode={mode}", "stop")

    def restart(self, mode: str = "fast") -> None:
        """What an ops restart does: running transactions are cut (rolled back), connections
        dropped, new ones refused until it is back."""
        self._ctl("--wait", f"--mode={mode}", "restart")

    def createdb(self, name: str) -> None:
        self._run(
            str(PG_BIN / "createdb"),
            f"--host={self.root}",
            f"--port={self.port}",
            "--username=postgres",
            name,
        )

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess:
        """pg_dump, pg_restore… of the same version as the server, as this process's user."""
        return self._run(str(PG_BIN / name), *args, as_owner=False)

    def sql(self, statement: str, database: str = "portal") -> str:
        """One statement through psql, straight to the server (never through PgBouncer)."""
        return self.tool("psql", "--no-psqlrc", "--quiet", f"--dbname={self.url(database)}",
                         f"--command={statement}").stdout  # fmt: skip

    def remove(self) -> None:
        if self.data.exists():
            self._run(
                str(PG_BIN / "pg_ctl"),
                f"--pgdata={self.data}",
                "--mode=immediate",
                "stop",
                check=False,
            )


# --- PgBouncer ---------------------------------------------------------------------------------

# The pool the drill runs the portal through (docs/production.md, "PostgreSQL and PgBouncer",
# shows these lines): transaction pooling, and far fewer server connections than the portal's
# processes (4 gunicorn workers, 2 Celery workers, 2 beats and the drill's own), so that each
# server connection serves one process's transaction, then another's. More than the workers'
# processes, though: a key job holds one for its whole transaction while a second connection of
# the same process writes its progress.
BOUNCER_SETTINGS = {
    "pool_mode": "transaction",
    "default_pool_size": "3",
    "max_client_conn": "200",
    "query_wait_timeout": "120",
}


class Bouncer:
    """A PgBouncer (Debian's /usr/sbin/pgbouncer, DRILLS_PGBOUNCER) of the drill's own in front of
    the drill's PostgreSQL, with trust authentication on 127.0.0.1 only. It refuses to run as
    root, so as root it runs as PostgreSQL's account."""

    def __init__(self, root: Path, port: int, pg: Postgres):
        self.root, self.port, self.pg = root, port, pg
        self.ini = root / "pgbouncer.ini"
        self.log = root / "pgbouncer.log"
        self.pidfile = root / "pgbouncer.pid"

    def url(self, database: str = "portal") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def settings(self) -> str:
        lines = [
            "[databases]",
            f"portal = host=127.0.0.1 port={self.pg.port} dbname=portal",
            "",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.root / 'userlist.txt'}",
            "admin_users = postgres",
            f"logfile = {self.log}",
            f"pidfile = {self.pidfile}",
            *(f"{name} = {value}" for name, value in BOUNCER_SETTINGS.items()),
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.ini.write_text(self.settings())
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        if self.pg.owner:
            for path in (self.root, self.ini, self.root / "userlist.txt"):
                os.chown(path, self.pg.owner.pw_uid, self.pg.owner.pw_gid)
        binary = os.environ.get("DRILLS_PGBOUNCER", "/usr/sbin/pgbouncer")
        self.pg._run(binary, "--daemon", str(self.ini))
        deadline = time.monotonic() + 10
        while not answers(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: see {self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: PgBouncer's immediate shutdown (what `systemctl restart pgbouncer` sends):
        every client and server connection closed, transactions in flight rolled back."""
        if not self.pidfile.exists():
            return
        pid = int(self.pidfile.read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while answers(self.port) or _alive(pid):
            if time.monotonic() > deadline:
                raise RuntimeError("pgbouncer did not stop")
            time.sleep(0.05)

    def admin(self, command: str) -> list[dict]:
        """A command of PgBouncer's admin console (SHOW POOLS, PAUSE portal…), its rows."""
        connection = psycopg2.connect(self.url("pgbouncer"), connect_timeout=5)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(command)
                if cursor.description is None:
                    return []
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            connection.close()


def _alive(pid: int) -> bool:
    """Running, not a zombie (this container's init reaps none)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# --- Redis -------------------------------------------------------------------------------------


class Redis:
    """A redis-server of the drill's own. No persistence by default: a restart loses every
    queued task and counter, which is the harder case (docs/production.md says nothing in
    Redis is the only copy of anything)."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 — the server's for its life
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not answers(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start: see {self.root}/redis.log")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(15)


# --- SMTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    message_id: str
    to: str
    subject: str


class _Session(socketserver.StreamRequestHandler):
    """Enough SMTP for Django's backend: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 drill-sink ESMTP")
        while line := self.rfile.readline():
            verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-drill-sink\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb in {"HELO", "MAIL", "RCPT", "RSET", "NOOP"}:
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self.server.sink.accept(self._data())
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def _data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in {b".\r\n", b".\n", b""}:
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client killed mid-session (the worker drill) is no error of the sink


class SmtpSink:
    """A mail server that keeps what it receives (Message-ID, recipient, subject), and can be
    stopped and started again on the same port: "SMTP down"."""

    def __init__(self, port: int, delay: float = 0.0):
        self.port = port
        self.delay = delay  # seconds before accepting each message: a slow server
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def accept(self, data: bytes) -> None:
        if self.delay:
            time.sleep(self.delay)
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self._lock:
            self.received.append(
                Received(
                    str(message.get("Message-ID", "")),
                    str(message.get("To", "")),
                    str(message.get("Subject", "")),
                )
            )

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), _Session)
        self._server.sink = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
