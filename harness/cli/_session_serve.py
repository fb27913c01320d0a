"""``judgecal session serve``: the local web app for a calibration session."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from harness.sessions import SessionError, SessionStore

from ._common import fail, out

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def serve_cmd(
    session_id: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Host to bind.")] = "127.0.0.1",
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="Allow binding a host other than 127.0.0.1/localhost.")] = False,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", envvar="JUDGECAL_STATE_DIR",
        help="State directory (sessions.sqlite); default .judgecal.")] = None,
) -> None:
    """Serve the participants' blind scoring pages and the facilitator's review page."""
    if host not in LOCAL_HOSTS and not allow_remote:
        fail(f"refusing to bind {host!r}: only 127.0.0.1/localhost unless --allow-remote "
             "(the pages are protected by tokens only, over plain HTTP)")
    if not 0 < port < 65536:
        fail(f"invalid port {port}")
    from harness.sessions._web import create_app

    try:
        store = SessionStore(state_dir)
        app = create_app(store, session_id)
        info = store.get(session_id).info
    except SessionError as exc:
        fail(str(exc))
    base = f"http://{host}:{port}"
    out.print(f"session {info.id} ({info.name}), state {info.state}")
    out.print("participants open (with the personal token printed by 'invite'):")
    for p in info.participants:
        out.print(f"  {p.name} ({p.id}): {base}/p/<participant token>", markup=False)
    out.print(f"facilitator: {base}/f/<facilitator token>", markup=False)
    out.print("Ctrl-C to stop.")
    # werkzeug's request log prints each URL, and the URLs carry the personal tokens
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host=host, port=port, debug=False, use_reloader=False)
