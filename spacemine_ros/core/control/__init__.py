"""The controllers, no rclpy.

Anchoring and the force budget, drill, scraper, material line and ledger books, smelter.
"""
