import json

import pytest

from ivr.services.acd.kpi import QueueKpis, compute_kpis
from ivr.services.acd.queue_log import parse_lines

S = 1700000000.0  # window start; the window is one hour, [S, S + 3600)
E = S + 3600

# Queue "sales" has two agents, alice and bob; carol serves "support" alone. Times as offsets:
#  -600 alice logs in (before the window)     -300/-290 c0 queued, answered by alice (hold 10)
#  +60  c0 ends (calltime 350), ACW to +90    +120/+125 c1 answered by alice (hold 5)
#  +300 bob logs in                           +400 c2 queued, rings bob unanswered
#  +425 c1 ends (calltime 300), ACW to +445   +440 c2 answered by bob (hold 40: slow)
#  +500/+510..+710 s1 on support, carol       +900 alice pauses in all queues (queue NONE)
#  +1000/+1003 c3 abandons after 3 s (short)  +1010/+1070 c4 abandons after 60 s
#  +1040 c2 ends (calltime 600), ACW to +1100 +1050/+1080 c5 times out after 30 s
#  +1200..+1500 bob paused                    +1800 alice unpauses
#  +1900/+1908 c6 answered by alice (hold 8)  +2000/+2015 c7 leaves with a key after 15 s
#  +2108 alice transfers c6 (calltime 200), ACW to +2138
#  +2400 bob logs out                         +3300/+3302 c8 answered by alice (hold 2)
#  +3600 c9 queues: at the end, so outside    +3650 c8 ends: after the window
QUEUE_LOG = """\
1699999400|NONE|sales|PJSIP/alice|ADDMEMBER|
1699999700|c0|sales|NONE|ENTERQUEUE||5550100
1699999710|c0|sales|PJSIP/alice|CONNECT|10|a0|2
1699999900|NONE|support|PJSIP/carol|ADDMEMBER|
1700000060|c0|sales|PJSIP/alice|COMPLETEAGENT|10|350|1
1700000090|c0|sales|PJSIP/alice|ACW|30
1700000120|c1|sales|NONE|ENTERQUEUE||5550101
1700000125|c1|sales|PJSIP/alice|CONNECT|5|a1|3
1700000300|NONE|sales|PJSIP/bob|ADDMEMBER|
1700000400|c2|sales|NONE|ENTERQUEUE||5550102
1700000415|c2|sales|PJSIP/bob|RINGNOANSWER|15000
1700000425|c1|sales|PJSIP/alice|COMPLETECALLER|5|300|1
1700000440|c2|sales|PJSIP/bob|CONNECT|40|a2|5
1700000445|c1|sales|PJSIP/alice|ACW|20
1700000500|s1|support|NONE|ENTERQUEUE||5550200

1700000510|s1|support|PJSIP/carol|CONNECT|10|a3|4
1700000710|s1|support|PJSIP/carol|COMPLETECALLER|10|200|1
1700000900|NONE|NONE|PJSIP/alice|PAUSE|lunch
1700001000|c3|sales|NONE|ENTERQUEUE||5550103
1700001003|c3|sales|NONE|ABANDON|1|1|3
1700001010|c4|sales|NONE|ENTERQUEUE||5550104
1700001040|c2|sales|PJSIP/bob|COMPLETEAGENT|40|600|1
1700001050|c5|sales|NONE|ENTERQUEUE||5550105
1700001070|c4|sales|NONE|ABANDON|1|1|60
1700001080|c5|sales|NONE|EXITWITHTIMEOUT|1|2|30
1700001100|c2|sales|PJSIP/bob|ACW|60
1700001200|NONE|sales|PJSIP/bob|PAUSE|break
1700001500|NONE|sales|PJSIP/bob|UNPAUSE|
1700001800|NONE|NONE|PJSIP/alice|UNPAUSE|
1700001900|c6|sales|NONE|ENTERQUEUE||5550106
1700001908|c6|sales|PJSIP/alice|CONNECT|8|a6|2
1700002000|c7|sales|NONE|ENTERQUEUE||5550107
1700002014|c7|sales|PJSIP/bob|RINGNOANSWER|14000
1700002015|c7|sales|NONE|EXITWITHKEY|0|1|1|15
1700002108|c6|sales|PJSIP/alice|TRANSFER|2000|from-internal|8|200|1
1700002138|c6|sales|PJSIP/alice|ACW|30
1700002400|NONE|sales|PJSIP/bob|REMOVEMEMBER|
1700003300|c8|sales|NONE|ENTERQUEUE||5550108
1700003302|c8|sales|PJSIP/alice|CONNECT|2|a8|1
1700003600|c9|sales|NONE|ENTERQUEUE||5550109
1700003650|c8|sales|PJSIP/alice|COMPLETECALLER|2|348|1
"""
EVENTS = parse_lines(QUEUE_LOG)

# Sales handling time in the window, per agent (talk + ACW, clipped to [S, E)):
#   alice: c0 0..60 talk + 60..90 ACW = 90; c1 125..425 + 425..445 = 320;
#          c6 1908..2108 + 2108..2138 = 230; c8 3302..3600 still talking = 298  -> 938
#   bob:   c2 440..1040 + 1040..1100 = 660                                      -> 660
# Sales staffed time in the window (logged in, not paused):
#   alice: 0..900 + 1800..3600 = 2700;  bob: 300..1200 + 1500..2400 = 1800      -> 4500
SALES_HANDLING, SALES_STAFFED = 938 + 660, 2700 + 1800
# Support: carol staffed the whole hour (3600) and handled s1 for 200 s.


def test_sales_hour() -> None:
    k = compute_kpis(EVENTS, start=S, end=E, queue="sales")
    assert (k.queue, k.start, k.end) == ("sales", S, E)
    assert k.offered == 8  # c1..c8; c0 queued before the window, c9 at its end
    assert k.answered == 4  # c1, c2, c6, c8 (c0 was answered before the window)
    assert k.short_abandoned == 1  # c3: 3 s < 5 s
    assert k.abandoned == 1  # c4: 60 s
    assert k.timed_out == 1  # c5
    assert k.exited_other == 1  # c7
    assert (k.service_level_s, k.short_abandon_s) == (20, 5)
    # Within 20 s: c1 (5), c6 (8), c8 (2); not c2 (40). Offered less short abandons: 8 - 1.
    assert k.service_level == pytest.approx(3 / 7)
    assert k.average_speed_of_answer_s == pytest.approx((5 + 40 + 8 + 2) / 4)  # 13.75
    # Completed in the window: c0 350+30, c1 300+20, c2 600+60, c6 (transfer) 200+30.
    assert k.average_handle_time_s == pytest.approx((380 + 320 + 660 + 230) / 4)  # 397.5
    assert k.abandonment_rate == pytest.approx(1 / 7)
    assert k.occupancy == pytest.approx(SALES_HANDLING / SALES_STAFFED)  # 1598 / 4500
    assert k.longest_wait_s == 60  # c4's abandon beats c2's 40 s hold


def test_all_queues() -> None:
    k = compute_kpis(EVENTS, start=S, end=E)
    assert k.queue is None
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned) == (9, 5, 1, 1)
    assert k.service_level == pytest.approx(4 / 8)  # s1 answered in 10 s
    assert k.average_speed_of_answer_s == pytest.approx((55 + 10) / 5)
    assert k.average_handle_time_s == pytest.approx((1590 + 200) / 5)
    assert k.abandonment_rate == pytest.approx(1 / 8)
    assert k.occupancy == pytest.approx((SALES_HANDLING + 200) / (SALES_STAFFED + 3600))


def test_one_queue_leaves_the_others_out() -> None:
    k = compute_kpis(EVENTS, start=S, end=E, queue="support")
    assert (k.offered, k.answered, k.abandoned, k.timed_out, k.exited_other) == (1, 1, 0, 0, 0)
    assert k.service_level == 1.0
    assert k.average_speed_of_answer_s == 10
    assert k.average_handle_time_s == 200
    assert k.abandonment_rate == 0.0
    assert k.occupancy == pytest.approx(200 / 3600)  # alice's all-queue pause is not carol's
    assert k.longest_wait_s == 10


def test_thresholds_move_the_rates() -> None:
    k = compute_kpis(EVENTS, start=S, end=E, queue="sales", service_level_s=40)
    assert k.service_level == pytest.approx(4 / 7)  # c2's 40 s now counts
    k = compute_kpis(EVENTS, start=S, end=E, queue="sales", short_abandon_s=2)
    assert (k.abandoned, k.short_abandoned) == (2, 0)
    assert k.service_level == pytest.approx(3 / 8)
    assert k.abandonment_rate == pytest.approx(2 / 8)


def test_state_carries_into_the_next_hour() -> None:
    k = compute_kpis(EVENTS, start=E, end=E + 3600, queue="sales")
    assert (k.offered, k.answered) == (1, 0)  # c9 queued right at the start
    assert k.service_level == 0.0
    assert k.average_speed_of_answer_s is None
    assert k.average_handle_time_s == 348  # c8, answered in the previous hour
    # alice is still logged in (bob logged out) and talked to c8 from E to E + 50.
    assert k.occupancy == pytest.approx(50 / 3600)
    assert k.longest_wait_s is None


def test_order_of_events_does_not_matter() -> None:
    forward = compute_kpis(EVENTS, start=S, end=E, queue="sales")
    assert compute_kpis(reversed(EVENTS), start=S, end=E, queue="sales") == forward


def test_empty_window() -> None:
    k = compute_kpis([], start=S, end=E)
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned) == (0, 0, 0, 0)
    assert (k.timed_out, k.exited_other) == (0, 0)
    assert k.service_level is None
    assert k.average_speed_of_answer_s is None
    assert k.average_handle_time_s is None
    assert k.abandonment_rate is None
    assert k.occupancy is None
    assert k.longest_wait_s is None


def test_only_short_abandons_leave_rates_undefined() -> None:
    log = "1700000000|c1|q|NONE|ENTERQUEUE||5\n1700000002|c1|q|NONE|ABANDON|1|1|2\n"
    k = compute_kpis(parse_lines(log), start=S, end=E)
    assert (k.offered, k.short_abandoned) == (1, 1)
    assert k.service_level is None
    assert k.abandonment_rate is None
    assert k.longest_wait_s == 2


def test_pause_during_wrap_up_still_counts_as_staffed() -> None:
    log = """\
1700000000|NONE|q|PJSIP/a|ADDMEMBER|
1700000100|c1|q|PJSIP/a|CONNECT|0|x|1
1700000200|c1|q|PJSIP/a|COMPLETEAGENT|0|100|1
1700000200|NONE|q|PJSIP/a|PAUSE|wrap-up
1700000260|NONE|q|PJSIP/a|UNPAUSE|
1700000260|c1|q|PJSIP/a|ACW|60
"""
    k = compute_kpis(parse_lines(log), start=S, end=S + 1000)
    # Handling 100..260 = 160; staffed 0..200 and 260..1000, plus the paused 200..260 spent
    # in wrap-up, so the whole 1000 s.
    assert k.occupancy == pytest.approx(160 / 1000)
    assert k.average_handle_time_s == 160


def test_damaged_data_counts_the_event_but_not_its_numbers() -> None:
    log = """\
1700000000|c1|q|NONE|ENTERQUEUE||5
1700000010|c1|q|NONE|ABANDON|1
1700000020|c2|q|NONE|ENTERQUEUE||5
1700000030|c2|q|PJSIP/a|CONNECT|soon|x|1
"""
    k = compute_kpis(parse_lines(log), start=S, end=E)
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned) == (2, 1, 1, 0)
    assert k.service_level == 0.0
    assert k.average_speed_of_answer_s is None
    assert k.longest_wait_s is None


def test_end_before_start() -> None:
    with pytest.raises(ValueError):
        compute_kpis(EVENTS, start=E, end=S)


def test_as_dict_is_json_ready_with_rules() -> None:
    k = compute_kpis(EVENTS, start=S, end=E, queue="sales")
    d = k.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["offered"] == 8
    assert d["service_level"] == pytest.approx(3 / 7)
    assert d["service_level_rule"] == "answered within 20 s / (offered - short abandons)"
    assert "less than 5 s" in str(d["short_abandon_rule"])
    for key in ("window_rule", "abandonment_rate_rule", "occupancy_rule"):
        assert isinstance(d[key], str)
    fields = set(QueueKpis.__dataclass_fields__)
    assert fields <= d.keys()
