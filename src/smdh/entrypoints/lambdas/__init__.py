"""entrypoints.lambdas."""
