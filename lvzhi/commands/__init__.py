"""Subcommands of the lvzhi CLI, one module each."""
