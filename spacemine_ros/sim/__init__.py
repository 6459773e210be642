"""The PyBullet world of the rig and the process models it drives (no rclpy)."""
