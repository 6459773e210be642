"""Field-bus drivers, device profiles and emulators (no rclpy)."""
