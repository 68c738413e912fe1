"""HardwareObjects."""
