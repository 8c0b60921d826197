"""The buses between the gateway and its users: the control bus (typed messages in, an
:class:`~tradegw.bus.messages.Ack` out; in process, or over a line-delimited JSON socket on
127.0.0.1) and the configuration state it keeps in SQLite."""
