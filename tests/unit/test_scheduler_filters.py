"""Each scheduler filter on hand-made hosts, and the per-filter explanation."""

from __future__ import annotations

import time
from collections import Counter

from scheduler_hosts import host, request
from stratus.scheduler.explain import explain
from stratus.scheduler.filters import run_filters
from stratus.scheduler.filters.affinity import ServerGroupAffinityFilter
from stratus.scheduler.filters.aggregate_extra_specs import AggregateInstanceExtraSpecsFilter
from stratus.scheduler.filters.anti_affinity import ServerGroupAntiAffinityFilter
from stratus.scheduler.filters.availability_zone import AvailabilityZoneFilter
from stratus.scheduler.filters.compute import ComputeFilter
from stratus.scheduler.filters.core import CoreFilter
from stratus.scheduler.filters.disk import DiskFilter
from stratus.scheduler.filters.extra_specs_ops import matches
from stratus.scheduler.filters.ignore_hosts import ForceHostFilter, IgnoreHostsFilter
from stratus.scheduler.filters.image_properties import ImagePropertiesFilter
from stratus.scheduler.filters.ram import RamFilter
from stratus.scheduler.host_state import Amounts, HostState
from stratus.scheduler.rpc import FilterReport


def names(hosts: list[HostState]) -> list[str]:
    return [h.name for h in hosts]


def test_compute_filter_drops_disabled_forced_down_and_silent_hosts() -> None:
    hosts = [
        host("up"),
        host("disabled", enabled=False),
        host("silent", alive_until=time.time() - 1),
    ]
    assert names(ComputeFilter().keep(hosts, request())) == ["up"]


def test_ram_filter_applies_the_allocation_ratio() -> None:
    # 16384 MiB * 1.5 = 24576 MiB usable; 23000 used leaves 1576
    hosts = [host("roomy", memory_mb_used=23000), host("full", memory_mb_used=24000)]
    assert names(RamFilter().keep(hosts, request(memory_mb=1500))) == ["roomy"]


def test_core_filter_applies_the_allocation_ratio() -> None:
    hosts = [host("a", vcpus_used=127), host("b", vcpus_used=128)]  # 8 * 16 = 128
    assert names(CoreFilter().keep(hosts, request(vcpus=1))) == ["a"]


def test_disk_filter_has_no_overcommit_by_default_and_skips_volume_boots() -> None:
    hosts = [host("a", local_gb_used=90), host("b", local_gb_used=91)]
    assert names(DiskFilter().keep(hosts, request(disk_gb=10))) == ["a"]
    assert not DiskFilter().active(request(disk_gb=0))


def test_availability_zone_filter_and_the_admin_zone_host_syntax() -> None:
    hosts = [host("a", availability_zone="east"), host("b", availability_zone="west")]
    assert names(AvailabilityZoneFilter().keep(hosts, request(availability_zone="west"))) == ["b"]
    forced = request(availability_zone="east:a")
    assert forced.spec.force_host == "a" and forced.spec.availability_zone == "east"
    assert names(ForceHostFilter().keep(hosts, forced)) == ["a"]
    any_zone = request(availability_zone=":b")
    assert any_zone.spec.availability_zone is None
    assert names(ForceHostFilter().keep(hosts, any_zone)) == ["b"]


def test_ignore_hosts_filter_skips_hosts_a_retry_failed_on() -> None:
    hosts = [host("a"), host("b"), host("c")]
    req = request(ignore_hosts=["a", "c"])
    assert names(IgnoreHostsFilter().keep(hosts, req)) == ["b"]
    assert not IgnoreHostsFilter().active(request())


def test_image_properties_filter() -> None:
    hosts = [
        host("x86", cpu_arch="x86_64", hypervisor_type="kvm", hypervisor_version=8002000),
        host("arm", cpu_arch="aarch64", hypervisor_type="fake"),
    ]
    check = ImagePropertiesFilter()

    def kept(**props: str) -> list[str]:
        return names(check.keep(hosts, request(image_properties=props)))

    assert not check.active(request(image_properties={"os_distro": "ubuntu"}))
    assert kept(hw_architecture="amd64") == ["x86"]
    assert kept(architecture="arm64") == ["arm"]
    assert kept(img_hv_type="qemu") == ["x86"]  # a KVM host runs QEMU images
    assert kept(hypervisor_type="fake") == ["arm"]
    assert kept(hw_vm_mode="hvm") == ["x86", "arm"]
    assert kept(hw_vm_mode="xen") == []
    assert kept(img_hv_requested_version=">=8.0") == ["x86"]
    assert kept(img_hv_requested_version="not a version") == []


def test_aggregate_instance_extra_specs_filter() -> None:
    ssd = {"ssd": frozenset({"true"}), "cpus": frozenset({"32"})}
    hosts = [host("fast", aggregate_metadata=ssd), host("plain")]
    check = AggregateInstanceExtraSpecsFilter()

    def kept(**specs: str) -> list[str]:
        return names(check.keep(hosts, request(flavor_extra_specs=specs)))

    assert not check.active(request(flavor_extra_specs={"hw:cpu_policy": "dedicated"}))
    assert kept(**{"aggregate_instance_extra_specs:ssd": "true"}) == ["fast"]
    assert kept(**{"aggregate_instance_extra_specs:ssd": "false"}) == []
    assert kept(ssd="true") == ["fast"]  # unscoped keys count too, as in Nova
    assert kept(**{"aggregate_instance_extra_specs:cpus": ">= 16"}) == ["fast"]


def test_extra_spec_operators() -> None:
    assert matches("true", "true") and not matches("True", "true")
    assert matches("abc", "<in> b")
    assert matches("b", "<or> a <or> b") and not matches("c", "<or> a <or> b")
    assert matches("a b c", "<all-in> a c")
    assert matches("10", "= 8") and not matches("6", "= 8")
    assert matches("8", "== 8.0") and matches("x", "s== x") and matches("b", "s> a")
    assert not matches("ten", ">= 4")


def test_affinity_filters_follow_the_group_members() -> None:
    hosts = [host("a"), host("b"), host("c")]
    affinity = request(server_group_policy="affinity", server_group_hosts=["b"])
    assert names(ServerGroupAffinityFilter().keep(hosts, affinity)) == ["b"]
    first = request(server_group_policy="affinity")
    assert not ServerGroupAffinityFilter().active(first)  # the first member goes anywhere
    anti = request(server_group_policy="anti-affinity", server_group_hosts=["a", "b"])
    assert names(ServerGroupAntiAffinityFilter().keep(hosts, anti)) == ["c"]
    anti.max_per_host = 2
    anti.group_hosts = Counter({"a": 2, "b": 1})
    assert names(ServerGroupAntiAffinityFilter().keep(hosts, anti)) == ["b", "c"]
    soft = request(server_group_policy="soft-anti-affinity", server_group_hosts=["a"])
    assert not ServerGroupAntiAffinityFilter().active(soft)


def test_run_filters_reports_each_active_filter_and_stops_at_zero() -> None:
    hosts = [host(f"h{i}") for i in range(10)]
    hosts[0].enabled = False
    for h in hosts[1:8]:
        h.consume(Amounts(0, 24000, 0))
    req = request(
        memory_mb=2048, server_group_policy="anti-affinity", server_group_hosts=["h8", "h9"]
    )
    survivors, reports = run_filters(hosts, req)
    assert survivors == []
    assert [(r.name, r.hosts_in, r.hosts_out) for r in reports] == [
        ("ComputeFilter", 10, 9),
        ("RamFilter", 9, 2),
        ("CoreFilter", 2, 2),
        ("DiskFilter", 2, 2),
        ("ServerGroupAntiAffinityFilter", 2, 0),
    ]
    assert explain(10, reports) == (
        "No valid host: 10 hosts; ComputeFilter removed 1 (9 left), RamFilter removed 7 "
        "(2 left), ServerGroupAntiAffinityFilter removed 2 (0 left)"
    )


def test_explanation_for_an_empty_cloud_and_one_host() -> None:
    assert explain(0, []) == "No valid host: no compute host has reported to the scheduler"
    report = FilterReport(name="RamFilter", hosts_in=1, hosts_out=0)
    assert explain(1, [report]) == "No valid host: 1 host; RamFilter removed 1 (0 left)"
