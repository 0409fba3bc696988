"""Compute settings: ``[compute]`` in the TOML file, ``STRATUS_COMPUTE__*`` in the environment.

The API's options are grouped first; the conductor's and agents' options follow theirs.
"""

from __future__ import annotations

from pydantic import Field

from stratus.common.config import Section


class ComputeSettings(Section):
    # ---- database (conductor and API) ---------------------------------------------------
    database_url: str = Field(default="", description="Overrides [database].url for compute.")

    # ---- compute-api (Nova v2.1) ----------------------------------------------------------
    port: int = Field(default=8774, ge=0, le=65535, description="Port of the Nova v2.1 API.")
    image_url: str = Field(
        default="",
        description="Base URL of the image service the API checks imageRef against and "
        "agents upload snapshots to. "
        "Default: this cloud's (http://<public_host>:<image.port>).",
    )
    default_availability_zone: str = Field(
        default="nova",
        description="Zone listed while no compute host has reported yet (Nova: 'nova'). "
        "A server created without a zone is pinned to none and shows its host's zone.",
    )
    max_user_data_bytes: int = Field(
        default=65535, ge=0, description="Largest user_data accepted, base64-decoded."
    )
    force_config_drive: bool = Field(
        default=False,
        description="Give every new server a config drive, whatever its request says.",
    )
    max_list_limit: int = Field(
        default=1000, ge=1, description="Most items one list page returns (Nova: 1000)."
    )
    quota_instances: int = Field(default=10, ge=-1, description="Servers per project.")
    quota_cores: int = Field(default=20, ge=-1, description="vCPUs per project.")
    quota_ram: int = Field(default=51200, ge=-1, description="RAM (MiB) per project.")
    quota_key_pairs: int = Field(default=100, ge=-1, description="Key pairs per user.")
    quota_server_groups: int = Field(default=10, ge=-1, description="Server groups per project.")
    quota_server_group_members: int = Field(
        default=10, ge=-1, description="Servers per server group."
    )
    quota_metadata_items: int = Field(default=128, ge=-1, description="Metadata items per server.")
    default_flavors: bool = Field(
        default=True,
        description="Create m1.tiny .. m1.xlarge at first start if no flavor of that name exists.",
    )

    def image_service_url(self, public_host: str, image_port: int) -> str:
        """The image service the API checks images with and agents upload snapshots to."""
        return self.image_url or f"http://{public_host}:{image_port}"

    def default_quotas(self) -> dict[str, int]:
        """Nova's quota resource names and their defaults (-1: unlimited)."""
        return {
            "instances": self.quota_instances,
            "cores": self.quota_cores,
            "ram": self.quota_ram,
            "key_pairs": self.quota_key_pairs,
            "server_groups": self.quota_server_groups,
            "server_group_members": self.quota_server_group_members,
            "metadata_items": self.quota_metadata_items,
        }

    # ---- conductor and agents -------------------------------------------------------------
    driver: str = Field(
        default="",
        description="Hypervisor driver of compute agents: 'qemu' (real QEMU/KVM virtual "
        "machines) or 'fake' (simulated hosts, no VMs). Unset: `stratus up` runs qemu "
        "whenever qemu-system-x86_64 is installed (and says which one runs), else fake; "
        "`stratus serve compute-agent` runs fake.",
    )
    report_interval: float = Field(
        default=10.0, gt=0, description="Seconds between an agent's host reports."
    )
    power_sync_interval: float = Field(
        default=30.0, gt=0, description="Seconds between an agent's power-state syncs."
    )
    agent_down_after: float = Field(
        default=60.0,
        gt=0,
        description="A host whose last report is older than this is down: the scheduler "
        "skips it, a delete no longer waits for it, evacuate is allowed.",
    )
    max_build_attempts: int = Field(
        default=3, ge=1, description="Hosts a build tries before the server goes to ERROR."
    )
    allow_resize_to_same_host: bool = Field(
        default=True,
        description="A resize the scheduler cannot place on another host stays on its own "
        "host when that host has room for the new flavor (Nova's option, on by default "
        "here so a one-machine cloud can resize). Cold migrations always move.",
    )
    power_off_grace: float = Field(
        default=30.0, ge=0, description="Seconds a clean shutdown may take before a hard one."
    )
    vif_plugging_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a spawned server (on a driver whose taps the network agent "
        "plugs: qemu) waits for every port to be ACTIVE before it goes ACTIVE (Nova's "
        "network-vif-plugged). Past it: ERROR with a fault naming the ports, or ACTIVE "
        "with a warning if vif_plugging_is_fatal is false.",
    )
    vif_plugging_is_fatal: bool = Field(
        default=True,
        description="Whether ports not wired within vif_plugging_timeout fail the build "
        "(true, as Nova) or only log a warning (false).",
    )
    vif_plugging_sweep_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between each conductor's checks for waits past their "
        "deadline (so a wait ends even if the conductor that started it died).",
    )
    snapshot_dir: str = Field(
        default="",
        description="Where an agent writes a snapshot's disk before uploading it (deleted "
        "after). Default: <state_dir>/compute-snapshots.",
    )
    fake_hosts: int = Field(
        default=1, ge=1, description="Simulated hosts one fake compute agent process runs."
    )
    fake_spawn_delay: float = Field(
        default=0.0, ge=0, description="Seconds a fake spawn takes (simulated boot time)."
    )
    fake_failure_rate: float = Field(
        default=0.0, ge=0, le=1, description="Fraction of fake spawns that fail (0 to 1)."
    )
    fake_failure_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts the failure rate applies to; empty: every fake host.",
    )
    fake_wait_for_ports: bool = Field(
        default=False,
        description="For tests: fake hosts declare that they wait for their ports to be "
        "wired, as qemu does, though they make no taps (a test makes the tap itself).",
    )
    fake_vcpus: int = Field(default=16, ge=1, description="vCPUs of each fake host.")
    fake_memory_mb: int = Field(default=65536, ge=1, description="RAM (MiB) of each fake host.")
    fake_local_gb: int = Field(default=2000, ge=1, description="Disk (GiB) of each fake host.")
    qemu_state_dir: str = Field(
        default="",
        description="Where the qemu driver keeps instance directories and cached base "
        "images. Default: <state_dir>/qemu.",
    )
    qemu_binary: str = Field(
        default="qemu-system-x86_64", description="The QEMU system emulator the driver runs."
    )
    qemu_user: str = Field(
        default="",
        description="Unprivileged user QEMU switches to once its devices are open "
        "(-runas); empty: it keeps the agent's user.",
    )
    qemu_accel: str = Field(
        default="auto",
        pattern="^(auto|kvm|tcg)$",
        description="'auto': KVM if a probe guest really runs under it, else TCG; or force "
        "'kvm' or 'tcg'.",
    )
    qemu_kvm_probe_timeout: float = Field(
        default=15.0, gt=0, description="Seconds the KVM probe guest has to boot."
    )
    qemu_console_max_bytes: int = Field(
        default=1 << 20, ge=4096, description="Bound of each instance's serial console log."
    )
    qemu_netns: str = Field(
        default="",
        description="Network namespace the qemu driver makes its taps and runs QEMU in, so "
        "that the network agent (which plugs the taps) sees them. Empty: the "
        "[network_agent] namespace of the same configuration (the host's own if that is "
        "empty too).",
    )
    qemu_soft_reboot_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a soft reboot waits for the guest to power off before a hard one.",
    )
