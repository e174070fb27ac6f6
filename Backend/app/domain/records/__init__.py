"""Records passed between layers, one module per area."""
