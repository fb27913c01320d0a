"""``judgecal session serve``: the local web app for a calibration session."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from harness.sessions import SessionError, SessionStore

from ._common import err, fail, out


def serve_cmd(
    session_id: Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")],
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Host to bind.")] = "127.0.0.1",
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="Allow binding a non-loopback address (plain HTTP: prints a "
        "warning).")] = False,
    public_host: Annotated[list[str] | None, typer.Option(
        "--public-host", metavar="NAME[:PORT]",
        help="A name users type to reach the app (e.g. a reverse proxy's); requests naming "
        "another host are refused. Repeatable; required with --host 0.0.0.0.")] = None,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", envvar="JUDGECAL_STATE_DIR",
        help="State directory (sessions.sqlite); default .judgecal.")] = None,
) -> None:
    """Serve the participants' blind scoring pages and the facilitator's review page."""
    from harness.sessions._web import create_app, serve_plan

    try:
        plan = serve_plan(host, port, public_hosts=public_host or (),
                          allow_remote=allow_remote)
    except ValueError as exc:
        fail(str(exc))
    try:
        store = SessionStore(state_dir)
        app = create_app(store, session_id, hosts=plan.hosts)
        info = store.get(session_id).info
    except SessionError as exc:
        fail(str(exc))
    if plan.warning:
        err.print(f"[bold yellow]warning:[/] {plan.warning}", markup=True, soft_wrap=True,
                  highlight=False)
    out.print(f"session {info.id} ({info.name}), state {info.state}", markup=False)
    out.print("participants open (with the personal token printed by 'invite'):")
    for p in info.participants:
        out.print(f"  {p.name} ({p.id}): {plan.base}/p/<participant token>", markup=False)
    out.print(f"facilitator: {plan.base}/f/<facilitator token> (across sessions: "
              f"{plan.base}/f/<facilitator token>/insights)", markup=False)
    for o in info.observers:
        out.print(f"  observer {o.name} ({o.id}): {plan.base}/o/<observer token>", markup=False)
    out.print(f"answering to Host: {', '.join(plan.hosts)}", markup=False)
    out.print("Ctrl-C to stop.")
    # werkzeug's request log prints each URL, and the URLs carry the personal tokens
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host=host, port=port, debug=False, use_reloader=False)
