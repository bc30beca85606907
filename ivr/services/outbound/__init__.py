"""Outbound: campaigns, contact lists, the compliance gate every dial passes, pacing, dialling.

docs/outbound.md is the guide. The pure parts (the gate, pacing, the simulator) import nothing
that talks to Asterisk or a database, so they run the same live and in `ivr campaign simulate`.
"""
