"""Choosing the target: accessibility, the catalogue of NEAs and the ranking (no ROS)."""
