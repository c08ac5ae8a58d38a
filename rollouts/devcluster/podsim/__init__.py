"""The local cluster's simulated kubelet, honest enough for failure paths: what a pod's spec says it would do.

KWOK plays kubelet for the fake nodes, but it cannot read a command line. This package decides, from each pod's
spec and steering annotations, how the pod would run on a real node, and KWOK's stages play that out:

- ``names``: the one rule for "this name says it does not exist" (``/bad-command``, ``image:does-not-exist``).
- ``images``: image references -> pulls, ``InvalidImageName``, or ``ErrImagePull``/``ImagePullBackOff``.
- ``programs``: command lines (``sleep``, ``true``/``false``, a ``sh -c`` subset) -> how and when they end.
- ``plan``: a pod -> its :class:`PodPlan` (fate, delays, exit codes, messages), written as an annotation.
- ``planner``: the process that writes the plans (list + watch + patch); the only module here that does I/O.

What is recognised, exactly, is documented for users in ``docs/local-cluster.md``.
"""

from rollouts.devcluster.podsim.plan import PLAN_ANNOTATION, STEERING_ANNOTATIONS, PodPlan, Refusal, plan_pod

__all__ = ["PLAN_ANNOTATION", "STEERING_ANNOTATIONS", "PodPlan", "Refusal", "plan_pod"]
