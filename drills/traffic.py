"""Traffic over the cluster's web nodes, as a load balancer spreads it, and the tally of every
answer: what a drill counts as "5xx other than 503" and "503 that is not the outage page"."""

import http.client
import http.cookiejar
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field

# What the outage answers say (templates/503.html, portal.outages): a 503 without them is a
# 503 of something else (gunicorn's, a proxy's), counted as a failure.
OUTAGE_PAGE_TEXTS = (b"cannot reach its database", b"cannot check its limits")
OUTAGE_PROBLEM = "tag:partner-key-portal,2026:problem:unavailable"


@dataclass
class Answer:
    status: int  # 0: no answer (refused, reset, timed out)
    headers: dict = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def is_outage(self) -> bool:
        """A 503 that says which service is away: the page, or the API's problem."""
        if self.status != 503:
            return False
        if self.headers.get("Content-Type", "").startswith("application/problem+json"):
            return (self.json() or {}).get("type") == OUTAGE_PROBLEM
        return any(text in self.body for text in OUTAGE_PAGE_TEXTS)


class Nodes:
    """The web nodes, taken in turn (round robin, as the load balancer would)."""

    def __init__(self, ports: list[int]):
        self.ports = ports
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return self.ports[next(self._turn) % len(self.ports)]

    def send(self, method, path, *, body=None, headers=None, port=None, timeout=30) -> Answer:
        port = port or self.next()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        except (OSError, http.client.HTTPException):
            return Answer(0)
        finally:
            connection.close()


class Balancer(Nodes):
    """The nodes behind a load balancer that can take one out of rotation and put it back
    ("drain": HAProxy's `set server … state drain`, nginx's `down` and a reload): no new
    request goes to a drained node; those in flight finish there."""

    def __init__(self, ports: list[int]):
        super().__init__(ports)
        self.drained: set[int] = set()

    def next(self) -> int:
        with self._lock:
            live = [port for port in self.ports if port not in self.drained] or self.ports
            return live[next(self._turn) % len(live)]

    def drain(self, port: int) -> None:
        with self._lock:
            self.drained.add(port)

    def restore(self, port: int) -> None:
        with self._lock:
            self.drained.discard(port)


class Tally:
    """Every answer, by label and status; the ones a drill must not see, with a sample."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: Counter = Counter()
        self.failures: list[str] = []

    def record(self, label: str, answer: Answer) -> Answer:
        with self._lock:
            self.counts[(label, answer.status)] += 1
            problem = None
            if answer.status == 0:
                problem = "no answer"
            elif answer.status == 503 and not answer.is_outage:
                problem = "a 503 that is not the outage page"
            elif answer.status >= 500 and answer.status != 503:
                problem = f"a {answer.status}"
            if problem:
                self.failures.append(f"{label}: {problem}: {answer.body[:200]!r}")
        return answer

    def total(self, *, status=None, label=None) -> int:
        return sum(
            n
            for (lab, st), n in self.counts.items()
            if (status is None or st == status) and (label is None or lab == label)
        )

    def other_5xx(self) -> int:
        return sum(n for (_l, st), n in self.counts.items() if st >= 500 and st != 503)

    def bad_503(self) -> int:
        return sum(1 for line in self.failures if "not the outage page" in line)

    def no_answer(self) -> int:
        return self.total(status=0)

    def summary(self) -> str:
        by_status = Counter()
        for (_label, status), n in self.counts.items():
            by_status[status] += n
        parts = ", ".join(f"{status or 'none'}: {n}" for status, n in sorted(by_status.items()))
        return f"{sum(by_status.values())} answers ({parts})"


# --- Browsers ----------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302 itself is the answer to look at


class Browser:
    """Enough of a browser: cookies kept, the CSRF token sent with each form, redirects not
    followed. Signs in through the real pages (password, then the authenticator app's code)."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def send(self, path: str, form: dict | None = None, port: int | None = None) -> Answer:
        base = f"http://127.0.0.1:{port}" if port else self.base
        data = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookie("csrftoken")}
            data = urllib.parse.urlencode(form, doseq=True).encode()
        request = urllib.request.Request(base + path, data=data, headers={"Referer": base + "/"})
        try:
            with self.opener.open(request, timeout=30) as answer:
                return Answer(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())
        except OSError:
            return Answer(0)

    def sign_in(self, user, password: str) -> None:
        from mfa.models import AuthenticatorApp
        from tests.second_factor import fresh_code

        steps = [
            ("/accounts/login/", None, 200),
            ("/accounts/login/", {"username": user.email, "password": password}, 302),
            (
                "/accounts/verify/",
                {"method": "app", "code": fresh_code(AuthenticatorApp.objects.get(user=user))},
                302,
            ),
        ]
        for path, form, expected in steps:
            answer = self.send(path, form)
            if answer.status != expected:
                raise RuntimeError(f"signing {user.email} in: {path} answered {answer.status}")


# --- Clients -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One logical request (a creation, a renewal) and the answer it ended with."""

    what: str
    keys: list[str]
    status: int
    tries: int
    target: str  # the domain prefix created, or the customer renewed
    answer: object = None


class Client(threading.Thread):
    """A thread sending one kind of request until told to stop; `step()` is one request."""

    RETRY_FOR = 120.0  # seconds a logical request is retried (503, 409, no answer)

    def __init__(self, label: str, nodes: Nodes, tally: Tally, pause: float = 0.05):
        super().__init__(daemon=True, name=label)
        self.label, self.nodes, self.tally, self.pause = label, nodes, tally, pause
        self.halt = threading.Event()
        self.outcomes: list[Outcome] = []

    def run(self) -> None:
        while not self.halt.is_set():
            self.step()
            time.sleep(self.pause)

    def step(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.halt.set()

    def until_final(self, method, path, body: dict, headers: dict) -> tuple[Answer, int]:
        """Send until the answer is final: a 503, a 409 (the same Idempotency-Key still
        running) or no answer is tried again, as a client following Retry-After would."""
        deadline = time.monotonic() + self.RETRY_FOR
        for tries in itertools.count(1):
            answer = self.tally.record(
                self.label, self.nodes.send(method, path, body=json.dumps(body), headers=headers)
            )
            if answer.status not in {0, 409, 503} or time.monotonic() > deadline:
                return answer, tries
            time.sleep(0.5)
        raise AssertionError("unreachable")


class ApiClient(Client):
    def __init__(self, label, nodes, tally, api_key: str, **kwargs):
        super().__init__(label, nodes, tally, **kwargs)
        self.api_key = api_key

    def headers(self) -> dict:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }


class Creator(ApiClient):
    """Creates customers from one key each (POST /api/v1/customers/)."""

    counter = itertools.count()

    def __init__(self, label, nodes, tally, api_key, world, **kwargs):
        super().__init__(label, nodes, tally, api_key, **kwargs)
        self.world = world

    def step(self) -> None:
        from drills.world import customer_details

        keys = self.world.take_keys(1)
        prefix = f"drill{next(self.counter):05d}"
        body = {"keys": keys, **customer_details(prefix)}
        answer, tries = self.until_final("POST", "/api/v1/customers/", body, self.headers())
        self.outcomes.append(Outcome("create", keys, answer.status, tries, prefix, answer.json()))


class Renewer(ApiClient):
    """Renews the world's customers in turn with one key each (POST …/renew/)."""

    def __init__(self, label, nodes, tally, api_key, world, customers, **kwargs):
        super().__init__(label, nodes, tally, api_key, **kwargs)
        self.world, self.customers = world, itertools.cycle(customers)

    def step(self) -> None:
        customer = next(self.customers)
        keys = self.world.take_keys(1)
        path = f"/api/v1/customers/{customer}/renew/"
        answer, tries = self.until_final("POST", path, {"keys": keys}, self.headers())
        self.outcomes.append(Outcome("renew", keys, answer.status, tries, str(customer)))


class Reader(Client):
    """A signed-in person reading pages in turn (each answer tallied)."""

    def __init__(self, label, nodes, tally, browser: Browser, paths: list[str], **kwargs):
        super().__init__(label, nodes, tally, **kwargs)
        self.browser, self.paths = browser, itertools.cycle(paths)

    def step(self) -> None:
        self.tally.record(self.label, self.browser.send(next(self.paths), port=self.nodes.next()))


def run_clients(clients: list[Client]):
    for client in clients:
        client.start()
    return clients


def api_and_page_traffic(
    nodes: Nodes,
    tally: Tally,
    world,
    browser: Browser,
    pages: list[str],
    *,
    creator_pause: float = 0.05,
    reader_pause: float = 0.05,
) -> list[Client]:
    """The drills' usual traffic, started: two API clients creating customers from keys, two
    renewing the world's customers, and a signed-in person reading `pages`."""
    return run_clients(
        [
            Creator(f"create-{n}", nodes, tally, world.api_key, world, pause=creator_pause)
            for n in (1, 2)
        ]
        + [
            Renewer(f"renew-{n}", nodes, tally, world.api_key, world, world.customers)
            for n in (1, 2)
        ]
        + [Reader("pages", nodes, tally, browser, pages, pause=reader_pause)]
    )


def stop_clients(clients: list[Client], timeout: float = 180) -> None:
    """Each finishes the logical request it is in (a client retrying keeps retrying)."""
    for client in clients:
        client.stop()
    for client in clients:
        client.join(timeout)
