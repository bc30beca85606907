"""What the ACD engine's tests share (test_engine_agents.py, test_engine_wrap_up.py,
test_engine_dispatch.py): the agents-and-queues file most of them run on, and short ways to read
an agent's state, put an agent on a call and get a queue's configuration.

Each test runs an Acd on a real SQLite database and a fake ARI (fakes.py); the clock is fake
and only moves when a test moves it.
"""

from __future__ import annotations

from ivr.services.acd.agents import Agent, AgentState
from ivr.services.acd.config import QueueConfig

from .fakes import Rig

STATES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
  a3: {name: Cid, endpoint: PJSIP/a3}
queues:
  sales: {members: [a1, a2], wrapup: 0.05, auto_pause_after: 2}
  support: {members: [a1], wrapup: 7}
"""
"""a1 serves two queues, a2 one, a3 none. sales wraps up in 50 ms; support's 7 s wrap-up is
only used with `fast_sleep`."""


def state(r: Rig, agent_id: str) -> AgentState:
    return r.acd.agent(agent_id).state


async def on_call(r: Rig, agent_id: str, call_id: str = "c1") -> Agent:
    """An offer the agent answered."""
    agent = r.acd.agent(agent_id)
    await r.acd.reserve([agent], call_id)
    await r.acd.answered(agent, call_id)
    return agent


def queue(r: Rig, name: str) -> QueueConfig:
    return r.acd.config().queues[name]
