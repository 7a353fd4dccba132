"""Routing configuration and machinery: offices, groups and distribution rules (config), the
router that picks an owner (router), the open-lead counters (loads), and the sweeps that
materialize lapsed claims and offers (sweeps)."""
