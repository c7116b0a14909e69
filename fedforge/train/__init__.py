"""fedforge.train"""
