"""`ivr load` says why SIPp placed no call instead of reporting an empty, "successful" run.

The real SIPp is started against a local SIP port another process holds (another load run,
in practice): the run must raise with SIPp's own reason.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ivr.testing.load import LoadPlan, _sipp_errors, run_load
from ivr.testing.load_sipp import CallerScript

BIND = "Unable to bind main socket, errno = 98 (Address already in use)"
SIPP_LOG = f"""Resolving remote host '127.0.0.1'... Done.
2026-12-07\t06:42:54.909324\t1796625774.909324: {BIND}
2026-12-07\t06:42:54.909324\t1796625774.909324: {BIND}
  1 open sockets                          0/0/0 UDP errors (send/recv/cong)
"""


def test_sipps_reasons_are_read_from_its_log_once_each(tmp_path: Path) -> None:
    log = tmp_path / "sipp.log"
    log.write_text(SIPP_LOG)
    assert _sipp_errors(log) == BIND
    assert _sipp_errors(tmp_path / "none.log") == f"see {tmp_path / 'none.log'}"


def test_a_run_whose_sip_port_is_taken_raises_with_sipps_reason(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        plan = LoadPlan(CallerScript.keys_every("101", "2"), callers=1, ramp=1, hold=1,
                        work=tmp_path / "run", sip_target="127.0.0.1:9",
                        local_sip_port=port)
        with pytest.raises(RuntimeError, match=r"SIPp placed no call .*Address already in use"):
            run_load(plan)
