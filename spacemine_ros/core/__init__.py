"""Pure logic: process models, controllers and state machines (no rclpy, no pybullet)."""
