"""Follow-ups leave when the answer they need arrives, not when the waiting check is done; work
done on another thread keeps its evidence apart until a check adopts it."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import httpx

from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor

BASE = "https://api.test/uk/sage200extra/accounts/v1/"
WAIT_S = 5.0


class Choreographed:
    """A server whose answers wait for each other: `fast` answers only once `slow` has arrived,
    and `slow` only once the follow-up of `fast` has arrived (or after WAIT_S)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.slow_arrived = threading.Event()
        self.follow_arrived = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        self.events.append(f"{name} arrived")
        if name == "slow":
            self.slow_arrived.set()
            self.follow_arrived.wait(WAIT_S)
        elif name == "fast":
            self.slow_arrived.wait(WAIT_S)
        elif name == "follow":
            self.follow_arrived.set()
        self.events.append(f"{name} answered")
        return httpx.Response(200, json={"name": name})


def _session(handler: Choreographed) -> Session:
    client = build_client(timeout_s=10, ca_bundle=None, transport=httpx.MockTransport(handler))
    return Session(client, Redactor(), concurrency=4, deadline_s=10)


def test_a_follow_up_leaves_the_moment_its_answer_arrives() -> None:
    server = Choreographed()
    session = _session(server)
    sent: list[str] = []

    def send_what_arrived_allows() -> None:
        if not sent and session.peek(BASE + "fast") is not None:
            sent.append("follow")
            session.send_ahead(BASE + "follow")

    session.before_waiting = send_what_arrived_allows
    session.send_ahead(BASE + "fast")
    answer = session.request("GET", BASE + "slow")  # fast arrives while this one waits
    session.close()
    assert answer.ok
    # Re-examined only before each wait, the follow-up would leave after slow had answered
    # (here: never, and slow would wait WAIT_S for it).
    assert server.events.index("follow arrived") < server.events.index("slow answered")


def test_work_on_another_thread_keeps_its_evidence_apart_until_adopted() -> None:
    server = Choreographed()
    server.slow_arrived.set()
    session = _session(server)
    evidence: list = []  # type: ignore[type-arg] # filled by the session

    def elsewhere() -> None:
        with session.recording(evidence):
            session.request("GET", BASE + "fast")

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert session.take_exchanges() == []
    assert [e.url for e in evidence] == [BASE + "fast"]
    session.adopt(evidence)
    assert [e.url for e in session.take_exchanges()] == [BASE + "fast"]
    session.close()
    assert session.unused_ahead == []


def test_evidence_no_check_adopted_is_listed_as_unused() -> None:
    server = Choreographed()
    server.slow_arrived.set()
    session = _session(server)
    evidence: list = []  # type: ignore[type-arg] # filled by the session
    with session.recording(evidence):
        session.request("GET", BASE + "fast")
    session.close()
    assert session.unused_ahead == [f"GET {BASE}fast"]


def test_waiting_for_work_elsewhere_still_sends_what_arrivals_allow() -> None:
    session = _session(Choreographed())
    done: Future[str] = Future()
    calls: list[int] = []

    def hook() -> None:
        calls.append(1)
        if len(calls) == 1:
            done.set_result("finished")

    session.before_waiting = hook
    threading.Timer(0.05, session.wake).start()
    assert session.wait_for(done) == "finished"
    assert calls == [1]
    session.close()
