"""fedforge.fl"""
