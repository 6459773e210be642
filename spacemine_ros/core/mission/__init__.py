"""Mission logic that needs no rig, no rclpy.

Plans, the supervisor's state machine, power sharing, preflight streams, the record.
"""
