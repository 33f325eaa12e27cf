"""scene stage."""
