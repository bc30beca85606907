"""The queue as a hand-off service: how a wait answers the flow."""

from __future__ import annotations

import pytest

from ivr.flow.types import DECLINED, TAKEN, HandoffResult, routed
from ivr.services.acd.handoff import handoff_result
from ivr.services.acd.results import Left, QueueResult, Served, TransferredOut, UnknownQueue


@pytest.mark.parametrize(("result", "answer"), [
    (Served(), TAKEN),
    (TransferredOut("1234"), TAKEN),
    (Left("timeout"), routed("timeout")),
    (Left("callback"), routed("callback")),
    (UnknownQueue("nosuch"), DECLINED),
])
def test_a_queue_wait_answers_the_flow(result: QueueResult, answer: HandoffResult) -> None:
    """QueueHandoff's contract with the flow: an agent who had the call takes it (also when
    transferring it out of the IVR), an outcome goes to the node's `on`, a queue the config
    does not have declines (the node's `next`)."""
    assert handoff_result(result) == answer
