"""fedforge.monitor"""
