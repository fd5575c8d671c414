"""Skyway: run Slurm jobs on cloud accounts through Terraform."""

__version__ = "2.0.0.dev0"
