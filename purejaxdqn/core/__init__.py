"""Pure JAX building blocks with no I/O: environments, networks, exploration, losses,
evaluation and episode statistics."""
