"""Quadro's Worker runtime: an agent that takes the tasks a Chief assigns to it, runs a
handler for each, and reports back.

    from quadro_workers import Worker

    async def validate(context):
        return f"claim {context.task.label} is valid"

    async with quadro.AsyncClient("localhost:50051") as client:
        await Worker(client, "claims", "validator-1", validate,
                     capabilities=["intake_*"]).run()

From the shell: `quadro worker --board claims --handler package.module:function`.
"""

from quadro_workers.context import Approve, BlockingContext, Revise, WorkContext
from quadro_workers.worker import Worker, WorkerStats

__all__ = ["Approve", "BlockingContext", "Revise", "WorkContext", "Worker", "WorkerStats"]
