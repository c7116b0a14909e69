"""fedforge.models"""
