"""The answer to "why did nothing fit?": each filter that removed hosts, in order."""

from __future__ import annotations

from stratus.scheduler.rpc import FilterReport

NO_VALID_HOST = "No valid host"


def explain(total: int, reports: list[FilterReport]) -> str:
    """``No valid host: 100 hosts; ComputeFilter removed 2 (98 left), ...``.

    FilterReport.hosts_out is what the filter let through; only filters that removed at
    least one host are named.
    """
    if total == 0:
        return f"{NO_VALID_HOST}: no compute host has reported to the scheduler"
    steps = [
        f"{r.name} removed {r.hosts_in - r.hosts_out} ({r.hosts_out} left)"
        for r in reports
        if r.hosts_out < r.hosts_in
    ]
    hosts = "1 host" if total == 1 else f"{total} hosts"
    if not steps:
        return f"{NO_VALID_HOST}: {hosts}, all claimed by concurrent requests"
    return f"{NO_VALID_HOST}: {hosts}; {', '.join(steps)}"
