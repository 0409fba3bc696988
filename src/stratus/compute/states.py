"""The instance state machine, in one place: which action is allowed in which state,
what it moves the instance to, and the status the API shows.

An instance has a ``vm_state`` (what it is), a ``task_state`` (what is being done to it,
or ``None``) and a ``power_state`` (what the hypervisor last reported). An action is
allowed only from the states listed for it and only while no other task runs (except
where noted); ``begin`` returns the task state to set, or raises ``ActionConflict``,
which the API renders as Nova's 409 ``conflictingRequest``. The conductor alone writes
the states that follow (DESIGN.md §1), each transition recorded as an instance action.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stratus.common.errors import Conflict


class VmState(enum.StrEnum):
    BUILDING = "building"
    ACTIVE = "active"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    RESIZED = "resized"
    ERROR = "error"
    DELETED = "deleted"


class TaskState(enum.StrEnum):
    SCHEDULING = "scheduling"
    SPAWNING = "spawning"
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
    REBUILDING = "rebuilding"
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_FINISH = "resize_finish"
    RESIZE_CONFIRMING = "resize_confirming"
    RESIZE_REVERTING = "resize_reverting"
    IMAGE_SNAPSHOT = "image_snapshot"
    IMAGE_PENDING_UPLOAD = "image_pending_upload"
    IMAGE_UPLOADING = "image_uploading"
    MIGRATING = "migrating"
    REBUILD_SPAWNING = "rebuild_spawning"
    DELETING = "deleting"


class PowerState(enum.IntEnum):
    """Nova's numbers, which the API shows as ``OS-EXT-STS:power_state``."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


class Action(enum.StrEnum):
    REBOOT = "reboot"
    REBOOT_HARD = "reboot_hard"
    STOP = "stop"
    START = "start"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SUSPEND = "suspend"
    RESUME = "resume"
    REBUILD = "rebuild"
    RESIZE = "resize"
    CONFIRM_RESIZE = "confirm_resize"
    REVERT_RESIZE = "revert_resize"
    SNAPSHOT = "create_image"
    MIGRATE = "migrate"
    LIVE_MIGRATE = "live_migration"
    EVACUATE = "evacuate"
    DELETE = "delete"
    FORCE_DELETE = "force_delete"


V = VmState
T = TaskState


@dataclass(frozen=True, slots=True)
class Rule:
    vm_states: frozenset[VmState]
    task: TaskState | None  # the task state the action starts
    # task states the action may interrupt (None: only when no task runs)
    over_tasks: frozenset[TaskState | None] = frozenset({None})


def _rule(states: set[VmState], task: TaskState | None, *over: TaskState | None) -> Rule:
    return Rule(frozenset(states), task, frozenset({None, *over}))


ANY = {V.BUILDING, V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED, V.RESIZED, V.ERROR}
RULES: dict[Action, Rule] = {
    Action.REBOOT: _rule({V.ACTIVE}, T.REBOOTING),
    Action.REBOOT_HARD: _rule(
        {V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED, V.ERROR}, T.REBOOTING_HARD, T.REBOOTING
    ),
    Action.STOP: _rule({V.ACTIVE, V.ERROR}, T.POWERING_OFF),
    Action.START: _rule({V.STOPPED}, T.POWERING_ON),
    Action.PAUSE: _rule({V.ACTIVE}, T.PAUSING),
    Action.UNPAUSE: _rule({V.PAUSED}, T.UNPAUSING),
    Action.SUSPEND: _rule({V.ACTIVE}, T.SUSPENDING),
    Action.RESUME: _rule({V.SUSPENDED}, T.RESUMING),
    Action.REBUILD: _rule({V.ACTIVE, V.STOPPED, V.ERROR}, T.REBUILDING),
    Action.RESIZE: _rule({V.ACTIVE, V.STOPPED}, T.RESIZE_PREP),
    Action.CONFIRM_RESIZE: _rule({V.RESIZED}, T.RESIZE_CONFIRMING),
    Action.REVERT_RESIZE: _rule({V.RESIZED}, T.RESIZE_REVERTING),
    Action.SNAPSHOT: _rule({V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED}, T.IMAGE_SNAPSHOT),
    Action.MIGRATE: _rule({V.ACTIVE, V.STOPPED}, T.RESIZE_PREP),
    Action.LIVE_MIGRATE: _rule({V.ACTIVE, V.PAUSED}, T.MIGRATING),
    Action.EVACUATE: _rule({V.ACTIVE, V.STOPPED, V.ERROR}, T.REBUILDING),
    # delete interrupts anything but another delete
    Action.DELETE: Rule(frozenset(ANY), T.DELETING, frozenset({None, *T} - {T.DELETING})),
    Action.FORCE_DELETE: Rule(frozenset(ANY), T.DELETING, frozenset({None, *T})),
}


class ActionConflict(Conflict):
    """Nova's 409: ``Cannot 'pause' instance <id> while it is in vm_state stopped``."""

    def __init__(self, action: Action, instance_id: str, vm: VmState, task: TaskState | None):
        where = f"task_state {task}" if task is not None else f"vm_state {vm}"
        super().__init__(
            "compute.instance.invalid_state",
            f"Cannot '{action}' instance {instance_id} while it is in {where}",
        )


def begin(
    action: Action, instance_id: str, vm: VmState, task: TaskState | None
) -> TaskState | None:
    """The task state ``action`` starts from (``vm``, ``task``), or ``ActionConflict``."""
    rule = RULES[action]
    if vm not in rule.vm_states or task not in rule.over_tasks:
        raise ActionConflict(action, instance_id, vm, task)
    return rule.task


_STATUS_BY_TASK: dict[TaskState, str] = {
    T.REBOOTING: "REBOOT",
    T.REBOOTING_HARD: "HARD_REBOOT",
    T.REBUILDING: "REBUILD",
    T.REBUILD_SPAWNING: "REBUILD",
    T.RESIZE_PREP: "RESIZE",
    T.RESIZE_MIGRATING: "RESIZE",
    T.RESIZE_FINISH: "RESIZE",
    T.RESIZE_REVERTING: "REVERT_RESIZE",
    T.MIGRATING: "MIGRATING",
}
_STATUS_BY_VM: dict[VmState, str] = {
    V.BUILDING: "BUILD",
    V.ACTIVE: "ACTIVE",
    V.STOPPED: "SHUTOFF",
    V.PAUSED: "PAUSED",
    V.SUSPENDED: "SUSPENDED",
    V.RESIZED: "VERIFY_RESIZE",
    V.ERROR: "ERROR",
    V.DELETED: "DELETED",
}


def status(vm: VmState, task: TaskState | None) -> str:
    """The API's ``status`` of an instance, as Nova derives it."""
    shown_by_task = task is not None and task in _STATUS_BY_TASK
    if shown_by_task and vm in (V.ACTIVE, V.STOPPED, V.RESIZED):
        assert task is not None
        return _STATUS_BY_TASK[task]
    return _STATUS_BY_VM[vm]
