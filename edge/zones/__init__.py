"""zones stage."""
