"""PostgreSQL plans each statement for the values at hand.

A new database starts empty and grows while the server runs. A prepared statement's
generic plan, made while a table is empty, finds every index alike and may pick one
that filters the whole table (a task looked up by key through the status index, say);
PostgreSQL keeps it until the next ANALYZE, a minute or more later. The store's
connections never use a generic plan."""

from __future__ import annotations

from quadro_server.core import commands as c
from quadro_server.storage.postgres import PostgresStore
from support import postgres

LOOKUP = "SELECT * FROM tasks WHERE board_id = $1 AND task_id = ANY($2)"


async def test_a_lookup_prepared_on_an_empty_table_is_planned_again_as_it_grows(
    postgres_database: str,
) -> None:
    # One connection: every call below runs, and is prepared, on it.
    store = PostgresStore(postgres.new_schema_url(postgres_database), pool_size=1)
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b"))
        for _ in range(8):  # past psycopg's threshold for preparing a statement
            assert await store.get_tasks("b", ["nothing-yet"]) == {}
        posted = await store.apply(
            [c.PostTask(board_id="b", task_type="t", label=str(i)) for i in range(500)]
        )
        task_ids = [o.result.task.task_id for o in posted]  # type: ignore[union-attr]
        for _ in range(4):
            found = await store.get_tasks("b", task_ids[:3])
            assert sorted(found) == sorted(task_ids[:3])
        async with store._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement = %s",
                (LOOKUP,),
            )
            plans = await cursor.fetchone()
        assert plans is not None, "the lookup was not prepared"
        assert plans["generic_plans"] == 0
        assert plans["custom_plans"] >= 4  # at least those after the table grew
    finally:
        await store.close()
