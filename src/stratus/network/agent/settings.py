"""``[network_agent]`` in the TOML file, ``STRATUS_NETWORK_AGENT__*`` in the environment."""

from __future__ import annotations

from pydantic import Field

from stratus.common.config import Section


class SimulatedHost(Section):
    """One more agent this process runs, as if on another machine (tests, demos)."""

    host: str
    namespace: str = Field(description="Network namespace this host's data plane lives in.")
    local_ip: str = ""
    l3: bool = Field(default=True, description="This host runs routers.")


class NetworkAgentSettings(Section):
    namespace: str = Field(
        default="",
        description="Network namespace the whole data plane lives in (created if missing); "
        "empty: the host's own. Every ip/bridge/nft/dnsmasq command runs inside it.",
    )
    local_ip: str = Field(
        default="", description="This host's VXLAN endpoint address (empty: no VXLAN)."
    )
    l3: bool = Field(
        default=True,
        description="Run routers here (each router runs on one L3 agent that has the "
        "uplink of its external network).",
    )
    physical_interfaces: dict[str, str] = Field(
        default_factory=dict,
        description="Physical network name -> interface carrying its flat/VLAN networks.",
    )
    resync_interval: float = Field(
        default=30.0, gt=0, description="Seconds between full resyncs with the service."
    )
    debounce: float = Field(
        default=0.2, ge=0, description="Seconds a change notice waits for more to arrive."
    )
    poll_interval: float = Field(
        default=0.1,
        gt=0,
        description="Seconds a link change waits for more before taps are plugged (the "
        "agent watches link changes with `ip monitor`; it does not poll).",
    )
    purge_on_stop: bool = Field(
        default=False,
        description="Remove every bridge, namespace, dnsmasq and table on stop (tests).",
    )
    simulated_hosts: list[SimulatedHost] = Field(
        default_factory=list, description="Extra agents in this process, each in a namespace."
    )
