"""ROS 2 nodes: thin glue between topics, services, parameters and the core logic."""
