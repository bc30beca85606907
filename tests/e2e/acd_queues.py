"""What the ACD's end-to-end modules share (test_acd_wait_call.py, test_acd_agent_call.py):
the queues.yaml they run on and the queue_log read back over HTTP. conftest.py's `acd` fixture
loads these queues into the app for a module and puts the demo's back afterwards.

The queues are tuned for test time (announcement after 3 s, 5 s ring timeout, 10 s wrap-up);
the app hot-reloads the edited file like a flow.
"""

from __future__ import annotations

from .running_app import RunningApp

QUEUES = """
pause_reasons: {"1": break, "2": lunch}
agents:
  agent1001: {name: Minji Kim, endpoint: PJSIP/agent1001, skills: {general: 1, billing: 1}}
  agent1002: {name: John Smith, endpoint: PJSIP/agent1002, skills: {general: 1}}
queues:
  general:
    strategy: longest_idle
    members: [agent1001, agent1002]
    ring_timeout: 5
    wrapup: 10
    auto_pause_after: 2
    announce: {first: 3, every: 20, position: true, wait: true, join: [queue-hold]}
    max_wait: 120
    max_length: 20
    keys: {"1": voicemail, "2": callback}
    transfer_code: "1"
  billing:
    strategy: skills
    skills: [billing]
    ring_timeout: 5
    wrapup: 10
    announce: {first: 30}
    max_wait: 120
    transfer_code: "2"
"""


def queue_log(app: RunningApp, call_id: str | None = None) -> list[list[str]]:
    with app.open("/queue_log?hours=1") as resp:
        lines = [line.split("|") for line in resp.read().decode().splitlines() if line]
    return [line for line in lines if call_id is None or line[1] == call_id]


def verbs(lines: list[list[str]]) -> list[tuple[str, str]]:
    """(event, agent) of each line, in order."""
    return [(line[4], line[3]) for line in lines]
