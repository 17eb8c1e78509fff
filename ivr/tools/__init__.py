"""Tools around the app: the call simulator."""
