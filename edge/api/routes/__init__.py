"""One router per resource; each is built by a function that receives its dependencies."""
