"""Physical process models of the rig and the body (pure Python and numpy).

Gravity and shape, anchors, drilling, cutting, conveying, thermal, power.
"""
