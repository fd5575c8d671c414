"""Skyway's long-running services and their supervision.

`registry` says which services exist and what they do, `loop` runs them
(heartbeat, errors, back-off), `serve` is the process itself,
`supervise` starts and stops it on this host, `status` reads the
heartbeats any host can see, and `unit` prints a systemd unit.
"""
