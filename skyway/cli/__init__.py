"""Command-line entry points: admin, user and Slurm hook commands."""
