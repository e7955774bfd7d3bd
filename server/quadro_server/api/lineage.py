"""A task's lineage, read across boards: its ancestors by following `parent_task` up to
the origin, and its descendants level by level through the children index."""

from __future__ import annotations

from dataclasses import dataclass

from quadro import limits
from quadro_server.core.names import parse_child_name
from quadro_server.core.records import TaskRecord
from quadro_server.storage.base import Store


@dataclass(frozen=True, slots=True)
class Hop:
    task: TaskRecord
    # Hops from the origin.
    depth: int


@dataclass(frozen=True, slots=True)
class Lineage:
    task: Hop
    # From the parent up to the origin.
    ancestors: list[Hop]
    # Breadth first, each level in the order posted.
    descendants: list[Hop]
    truncated: bool


async def read_lineage(
    store: Store, task: TaskRecord, budget: int = limits.LINEAGE_TASKS_MAX
) -> Lineage:
    chain: list[TaskRecord] = []
    truncated = False
    parent_name = task.parent_task
    while parent_name:
        if len(chain) >= budget:
            truncated = True
            break
        ref = parse_child_name(parent_name, "tasks")
        parent = await store.get_task(ref.board_id, ref.child_id)
        if parent is None:  # pragma: no cover - parents are never deleted
            break
        chain.append(parent)
        parent_name = parent.parent_task
    depth = len(chain)
    ancestors = [Hop(t, depth - 1 - i) for i, t in enumerate(chain)]
    descendants: list[Hop] = []
    level = [task.name]
    room = budget - len(chain)
    while level and not truncated:
        children = await store.list_children(level, room - len(descendants) + 1)
        if len(descendants) + len(children) > room:
            children = children[: room - len(descendants)]
            truncated = True
        depth += 1
        descendants.extend(Hop(child, depth) for child in children)
        level = [child.name for child in children]
    return Lineage(Hop(task, len(chain)), ancestors, descendants, truncated)
