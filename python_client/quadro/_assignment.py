"""What an assignment stream yields; shared by both clients."""

from __future__ import annotations

from dataclasses import dataclass

from quadro.v1 import event_pb2, task_pb2


@dataclass(frozen=True, slots=True)
class Assignment:
    """A task given to an agent: the `task_assigned` event, and the task as the board
    sent it with the event (possibly moved on since: see `current`)."""

    event: event_pb2.Event
    task: task_pb2.Task

    @property
    def current(self) -> bool:
        """Whether the task, as sent, was still in this assignment: IN_PROGRESS, held
        by the agent, with the event's attempt."""
        return (
            self.task.status == "IN_PROGRESS"
            and self.task.assigned_to == self.event.agent
            and self.task.attempt == self.event.attempt
        )


__all__ = ["Assignment"]
