"""fedforge.data"""
