"""The `bridge` command and its subcommands, one module per group; each module has `register(subcommands)`.

A command's handler takes (settings, args) and returns an exit code. It declares with
`set_defaults(settings=...)` which settings it needs: "required" (the default: a provider secret must be
set), "optional" (the environment is read, no secret needed) or "none" (built-in defaults only).
"""
