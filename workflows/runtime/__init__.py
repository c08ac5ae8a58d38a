"""The engine's runtime: the asyncio driver of plans (:mod:`.executor`), step runners, Jobs, watches, and the kopf
shell of Workflow resources. Everything that waits, talks to the network or to the Kubernetes API lives here, and
:mod:`.kube` is the one client every package uses for the Kubernetes API.
"""
