"""Control software for robotic mining rigs on asteroids and other low-gravity bodies."""
