"""The fault drills of issue 21 (`make drills`; README "Fault drills"). `python -m drills`."""
