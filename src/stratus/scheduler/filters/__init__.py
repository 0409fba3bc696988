"""The filters, in the order they run, and the pass that reports what each removed.

The order puts what a user controls last (zone, image, group) so the explanation reads
from "the cloud" to "your request"; the cheapest checks go first anyway.
"""

from __future__ import annotations

from stratus.scheduler.filters.affinity import ServerGroupAffinityFilter
from stratus.scheduler.filters.aggregate_extra_specs import AggregateInstanceExtraSpecsFilter
from stratus.scheduler.filters.anti_affinity import ServerGroupAntiAffinityFilter
from stratus.scheduler.filters.availability_zone import AvailabilityZoneFilter
from stratus.scheduler.filters.base import HostFilter
from stratus.scheduler.filters.compute import ComputeFilter
from stratus.scheduler.filters.core import CoreFilter
from stratus.scheduler.filters.disk import DiskFilter
from stratus.scheduler.filters.ignore_hosts import ForceHostFilter, IgnoreHostsFilter
from stratus.scheduler.filters.image_properties import ImagePropertiesFilter
from stratus.scheduler.filters.ram import RamFilter
from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.rpc import FilterReport

FILTERS: tuple[HostFilter, ...] = (
    ForceHostFilter(),
    IgnoreHostsFilter(),
    ComputeFilter(),
    AvailabilityZoneFilter(),
    RamFilter(),
    CoreFilter(),
    DiskFilter(),
    ImagePropertiesFilter(),
    AggregateInstanceExtraSpecsFilter(),
    ServerGroupAffinityFilter(),
    ServerGroupAntiAffinityFilter(),
)


def run_filters(
    hosts: list[HostState],
    req: PlacementRequest,
    filters: tuple[HostFilter, ...] = FILTERS,
) -> tuple[list[HostState], list[FilterReport]]:
    """The hosts every active filter keeps, and one report per filter that ran.

    Stops at the first filter that leaves no host: the ones after it have nothing to say.
    """
    reports: list[FilterReport] = []
    for host_filter in filters:
        if not host_filter.active(req):
            continue
        kept = host_filter.keep(hosts, req)
        reports.append(
            FilterReport(name=host_filter.name, hosts_in=len(hosts), hosts_out=len(kept))
        )
        hosts = kept
        if not hosts:
            break
    return hosts, reports


__all__ = ["FILTERS", "HostFilter", "run_filters"]
