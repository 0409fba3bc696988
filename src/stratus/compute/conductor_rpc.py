"""What the compute API asks of the conductor (topic ``conductor``).

The API validates, writes the instance row (``building``/``scheduling``, or the task
state ``states.begin`` gives an action) and the instance action, then casts one of
these; the conductor owns every later write. ``request_id`` names the instance action
the conductor adds its events to. Like ``compute.rpc``, no SQL import here.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from stratus.common.rpc import Call, Cast
from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.rpc import ConsoleOutput
from stratus.compute.states import Action
from stratus.scheduler.rpc import RequestSpec


class BuildServers(Cast):
    """Schedule and build instances the API has written (one per id, min..max count)."""

    wire_name: ClassVar[str] = "conductor.build_servers"
    instance_ids: list[str]
    request_spec: RequestSpec
    request_id: str
    user_id: str
    project_id: str


class ServerAction(Cast):
    """Carry out ``action`` whose task state the API has already set.

    ``params``: ``flavor_id`` (resize), ``image_ref`` (rebuild), ``image_id``,
    ``disk_format`` and ``container_format`` (create image: the record the API created),
    ``host`` (migrate, live migrate and evacuate; empty: the scheduler chooses).
    ``auth_token``: the caller's token, only for an action that acts for the caller in
    another service (create image uploads with it); never in ``repr``, never logged.
    """

    wire_name: ClassVar[str] = "conductor.server_action"
    instance_id: str
    action: Action
    params: dict[str, str] = Field(default_factory=dict)
    request_id: str
    auth_token: str | None = Field(default=None, repr=False)


class DeleteServer(Cast):
    wire_name: ClassVar[str] = "conductor.delete_server"
    instance_id: str
    force: bool = False
    request_id: str


class PortStatusChanged(Cast):
    """From the network service: these ports of a server went ``ACTIVE`` (wired on
    ``host``: Nova's ``network-vif-plugged`` external event) or ``DOWN`` again. A server
    waiting for its ports re-reads all their states (``network.get_port_states``), so a
    lost, late or duplicated one does no harm."""

    wire_name: ClassVar[str] = "conductor.port_status_changed"
    instance_id: str
    host: str
    status: Literal["ACTIVE", "DOWN"]
    port_ids: list[str]


class GetServerConsole(Call[ConsoleOutput]):
    """The last ``length`` lines of the console of the instance's host agent."""

    wire_name: ClassVar[str] = "conductor.console_output"
    instance_id: str
    length: int | None = None


class GetInstanceMetadata(Call[InstanceMetadata]):
    """What the metadata service and the config drive tell a guest about itself.

    Not found (or deleted): ``compute.instance.not_found``; the caller compares the
    project itself, so the answer names it.
    """

    wire_name: ClassVar[str] = "conductor.instance_metadata"
    instance_id: str
