"""The `nextword` subcommands other than `serve`."""
