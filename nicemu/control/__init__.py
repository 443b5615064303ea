"""The control socket: inspect and steer a running nicemu with JSON commands (``nicemu ctl``)."""
