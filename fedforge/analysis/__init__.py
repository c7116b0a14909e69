"""fedforge.analysis"""
