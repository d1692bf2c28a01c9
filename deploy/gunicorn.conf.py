"""gunicorn's configuration for the portal's web processes (docs/production.md).

    .venv/bin/gunicorn --config deploy/gunicorn.conf.py

Everything that differs between machines comes from the environment (the systemd unit's
EnvironmentFile, or scripts/cluster.sh):

    GUNICORN_BIND       address to listen on (default 127.0.0.1:8000; the proxy's side only)
    GUNICORN_WORKERS    worker processes (default 2 per core, plus 1)
    GUNICORN_TIMEOUT    seconds a request may take before its worker is replaced (default 60)
    PROMETHEUS_MULTIPROC_DIR  where the workers' metrics meet (emptied here at start: see below)
    LOG_FORMAT, LOG_LEVEL     as for the portal: gunicorn's own lines look like the portal's
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the portal's packages, whatever the current directory

from portal.logs import log_format, logging_config  # noqa: E402


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"The environment variable {name} must be a whole number above 0.")
    return int(value)


def _debug() -> bool:
    return os.environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


wsgi_app = "portal.wsgi:application"
chdir = str(ROOT)
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = _int("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1)
# Sync workers: one request per process at a time. The slow work (e-mail, webhooks, key jobs of
# KEY_JOB_BACKGROUND_THRESHOLD keys or more) is in Celery, so a request is short; one that is
# not after GUNICORN_TIMEOUT seconds has its worker killed and replaced.
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (systemctl stop, a new release) requests in flight get this long to finish.
graceful_timeout = 30
# The proxy keeps connections to us open between requests.
keepalive = 5
# A worker is replaced after about this many requests: memory a leak would hold is given back.
max_requests = 2000
max_requests_jitter = 200

# The proxy's headers are read by Django alone (TRUST_X_FORWARDED_PROTO, TRUSTED_PROXY_COUNT:
# docs/production.md). gunicorn must not turn X-Forwarded-Proto into https on its own, or a
# portal told to trust no proxy would still believe any client that sends the header.
secure_scheme_headers = {}
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# A header with an underscore (X_Forwarded_For) could pass for the one with a dash: dropped.
header_map = "drop"

# Several gunicorns run on one machine (scripts/cluster.sh), each its own "node": no shared
# control socket in $HOME (the systemd unit's home is read-only anyway).
control_socket_disable = True
proc_name = os.environ.get("GUNICORN_PROC_NAME", "portal-web")

# Logs: on stderr (journald, or the cluster's log files), in the portal's format. The access
# log is the portal's own line per request (logger portal.access: method, path without query
# string or link token, status, duration, request id), so gunicorn's is silenced.
errorlog = "-"
_config = logging_config(
    fmt=log_format(_debug()), level=os.environ.get("LOG_LEVEL", "INFO"), debug=_debug()
)
_config["loggers"]["gunicorn.error"] = {"level": "INFO", "handlers": [], "propagate": True}
_config["loggers"]["gunicorn.access"] = {"level": "WARNING", "handlers": [], "propagate": True}
logconfig_dict = _config


# Prometheus (portal/metrics.py): each worker writes its counts to files in
# PROMETHEUS_MULTIPROC_DIR, and whichever worker answers /metrics adds them all up. Files of an
# earlier run would be added too: the directory is emptied before the first worker starts.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
