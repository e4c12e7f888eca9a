"""How a shard run executes its steps, chosen per deployment by ``$CURATION_EXECUTOR``.

- ``multiprocess`` (default): one process per step, independent filters run side by side.
- ``in_process``: every step in the run's own process: no per-step interpreter start (several
  seconds each), the better trade on small machines where shards already run in parallel.
- ``ecs``: one ECS task per step (``dagster_aws.ecs.ecs_executor``), each sized by its asset's
  ``ecs/cpu`` and ``ecs/memory`` op tags (see deploy/dagster.yaml).

Read when the code location loads, so the daemon, the webserver and run workers must share it.
"""

import os

import dagster as dg

EXECUTORS = ("multiprocess", "in_process", "ecs")


def shard_executor() -> dg.ExecutorDefinition:
    name = os.environ.get("CURATION_EXECUTOR", "multiprocess").strip() or "multiprocess"
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "in_process":
        return dg.in_process_executor
    if name == "ecs":
        from dagster_aws.ecs import ecs_executor

        return ecs_executor
    raise ValueError(f"CURATION_EXECUTOR={name!r}: use one of {', '.join(EXECUTORS)}")
