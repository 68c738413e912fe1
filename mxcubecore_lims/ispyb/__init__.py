"""ispyb."""
