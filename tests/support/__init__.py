"""Reusable test harnesses: a real Prometheus with a controllable exporter, loopback HTTP servers, virtual time and
provider fakes. Nothing here is collected as tests; every tier may import it."""
