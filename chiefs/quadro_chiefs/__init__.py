"""Quadro's coordination runtime: Chiefs that decide who works on what, and the
Ombudsman that notices work gone quiet.

    from quadro_chiefs import ChiefAgent, Debounced

    chief = (ChiefAgent.builder(client).named("intake").boards("claims")
             .task_types("intake_*").cadence(Debounced(0.5)).build())
    await chief.run()

A policy is a plain callable from a `Snapshot` to actions (`Assign`, `Transition`,
`PostTask`, `HandOff`); `default_policy` covers the common case.
"""

from quadro_chiefs.actions import Action, Assign, HandOff, PostTask, Transition
from quadro_chiefs.cadence import Cadence, Cron, Debounced, Periodic, Reactive, parse_cadence
from quadro_chiefs.chief import ChiefAgent, ChiefBuilder, ChiefState, CycleRecord
from quadro_chiefs.policies import default_policy
from quadro_chiefs.snapshot import BoardView, Snapshot

__all__ = [
    "Action",
    "Assign",
    "BoardView",
    "Cadence",
    "ChiefAgent",
    "ChiefBuilder",
    "ChiefState",
    "Cron",
    "CycleRecord",
    "Debounced",
    "HandOff",
    "Periodic",
    "PostTask",
    "Reactive",
    "Snapshot",
    "Transition",
    "default_policy",
    "parse_cadence",
]
