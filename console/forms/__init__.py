"""The console's forms: they parse input at the edge; the services decide the rules."""
