"""The Discord front end: the client, its cogs, rendering, admission and draft streaming."""
