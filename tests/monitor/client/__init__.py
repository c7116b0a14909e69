"""Tests of fedforge.monitor.client: what the federation imports."""
