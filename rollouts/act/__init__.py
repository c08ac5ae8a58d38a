"""Act: apply a Rollout plan to the cluster. The only code that writes what the Rollout controller decided.

Each action is declarative and applied idempotently (create-if-absent, set-to-value), in the planner's order, and
the first failure stops the plan: the next reconcile re-plans from whatever the cluster then shows.
"""

from rollouts.act.apply import TrafficRouter, apply_plan, write_status_patch

__all__ = ["TrafficRouter", "apply_plan", "write_status_patch"]
